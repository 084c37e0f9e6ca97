"""Helpers shared by the test modules, imported as `tests.support.<module>`.

Test modules never import a conftest: which conftest a bare `import conftest` finds depends on
the order pytest collected the directories, so shared code lives here as an ordinary package
(importable because pytest puts the repository root on sys.path, see pyproject.toml).
"""
