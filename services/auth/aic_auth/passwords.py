"""Password rules and hashing (argon2id)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from aic_common.errors import InvalidInput


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("aic_auth").joinpath("data/common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


class PasswordPolicy:
    def __init__(self, min_length: int, max_length: int) -> None:
        self.min_length = min_length
        self.max_length = max_length

    def check(self, password: str, *, username: str = "", email: str = "") -> None:
        """Raise a 422 with a message a person can act on when ``password`` is not acceptable."""
        if len(password) < self.min_length:
            raise InvalidInput(
                f"Password must be at least {self.min_length} characters", code="password_too_short"
            )
        if len(password) > self.max_length:
            raise InvalidInput(
                f"Password must be at most {self.max_length} characters", code="password_too_long"
            )
        lowered = password.lower()
        if lowered in common_passwords():
            raise InvalidInput("This password is too common; choose another", code="password_too_common")
        if (username and lowered == username.lower()) or (email and lowered == email.lower()):
            raise InvalidInput("Password must not be your username or email", code="password_too_common")


class PasswordHasher:
    """argon2id hashing; tells when a stored hash was made with older parameters."""

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the account does not exist, so both answers take as long.
        self._dummy_hash = self._hasher.hash("not-a-real-password-just-for-timing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
