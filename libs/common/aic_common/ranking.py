"""How the explore feed ranks posts, shared by the social service (what people see) and the simulator
(what the AI characters see), so both rank the same posts the same way.

Hacker-News style: engagement (a comment counts twice a like) decays with age; ``gravity`` says how fast.
"""

from __future__ import annotations

# The defaults of the social service's settings (explore_gravity, explore_window_hours).
DEFAULT_GRAVITY = 1.5
DEFAULT_WINDOW_HOURS = 72


def explore_score(likes: int, comments: int, age_hours: float, gravity: float = DEFAULT_GRAVITY) -> float:
    """The explore rank of a post ``age_hours`` old (a negative age, from clock skew, counts as new)."""
    return (1 + likes + 2 * comments) / (max(0.0, age_hours) + 2) ** gravity
