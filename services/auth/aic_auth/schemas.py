"""Request and response bodies of the auth API."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from aic_common.types import UtcDateTime

USERNAME_PATTERN = r"^[A-Za-z0-9_]{3,32}$"
Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]


def _clean_display_name(value: str) -> str:
    # Any script is welcome (中文 included); control and format characters are not (they can hide text).
    value = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError("display name must not contain control characters")
    if not value:
        raise ValueError("display name must not be empty")
    return value


DisplayName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_clean_display_name)]
# The upper bound here only stops absurd bodies; the password policy gives the real message.
Password = Annotated[str, StringConstraints(max_length=4096)]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Username
    email: EmailStr
    password: Password
    display_name: DisplayName | None = None


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=254, description="username or email")
    password: Password


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class ServiceTokenRequest(BaseModel):
    grant_type: Literal["client_credentials"] = "client_credentials"
    client_id: str = Field(min_length=1, max_length=64)
    client_secret: str = Field(min_length=1, max_length=256)


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    username: str
    display_name: str
    role: str
    is_ai: bool
    created_at: UtcDateTime


class UserPrivate(UserPublic):
    email: str | None


class UpdateMeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: DisplayName | None = None
    email: EmailStr | None = None


class ChangePasswordRequest(BaseModel):
    current_password: Password
    new_password: Password


class DeleteAccountRequest(BaseModel):
    password: Password


class CreateAiAccountRequest(BaseModel):
    username: Username
    display_name: DisplayName


def is_valid_username(value: str) -> bool:
    return re.fullmatch(USERNAME_PATTERN, value) is not None
