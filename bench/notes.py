"""What the measured numbers cannot say by themselves: why a goal is missed and what was tried (shown
under a benchmark whose goal is missed), and the fixes made after measuring, with their numbers."""

MISSED: dict[str, str] = {}

FIXES = """
"""
