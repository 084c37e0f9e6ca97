"""`rulesync docs`: the rule files rendered as the help article's tables and a state diagram."""
