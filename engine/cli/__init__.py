"""The command line: one small function per verb, and the reporters that format what it prints."""
