"""What the auth service does; the HTTP routes and the message handlers both call this."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from aic_auth.models import DeletedAccount, RefreshToken, User
from aic_auth.passwords import PasswordHasher, PasswordPolicy
from aic_auth.schemas import TokenPair, is_valid_username
from aic_auth.settings import AuthSettings
from aic_auth.throttle import Limit, Throttle
from aic_common.bus import Outbox
from aic_common.db import run_transaction, utc_now
from aic_common.errors import (
    AppError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from aic_common.messages import UserDeleted, UserRegistered, UserUpdated
from aic_common.tokens import MAX_ACCESS_TOKEN_TTL_SECONDS, TokenIssuer

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
INVALID_CREDENTIALS = "Invalid username or password"


def username_or_email_taken() -> Conflict:
    """One answer whether the username or the email is taken: it must not single out an email as
    having an account (usernames are public anyway)."""
    return Conflict("That username or email is already in use", code="username_or_email_taken")


def hash_refresh_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class AuthService:
    settings: AuthSettings
    session_factory: sessionmaker[Session]
    outbox: Outbox
    issuer: TokenIssuer
    hasher: PasswordHasher
    policy: PasswordPolicy
    throttle: Throttle
    clock: Clock = utc_now

    # ------------------------------------------------------------------ accounts

    def register(self, *, username: str, email: str, password: str, display_name: str | None) -> User:
        self.policy.check(password, username=username, email=email)
        # Slow: before the transaction, not inside it; and whatever follows, so that a refusal takes
        # as long as an account made.
        password_hash = self.hasher.hash(password)
        with self.session_factory.begin() as session:
            self._ensure_free(session, username=username, email=email)
            user = self._new_user(
                session,
                username=username,
                email=email,
                display_name=display_name or username,
                password_hash=password_hash,
                role="user",
                is_ai=False,
            )
        return user

    def create_ai_account(
        self, session: Session, *, username: str, display_name: str, bio: str = ""
    ) -> tuple[User, bool]:
        """An AI character's account (no password) and whether it is new; asking again returns it."""
        if not is_valid_username(username):
            raise InvalidInput("username must be 3-32 letters, digits or _", code="invalid_username")
        existing = session.scalar(sa.select(User).where(User.username_key == username.lower()))
        if existing is not None:
            if not existing.is_ai:
                raise Conflict("That username belongs to a person", code="username_taken")
            return existing, False
        user = self._new_user(
            session,
            username=username,
            email=None,
            display_name=display_name,
            password_hash=None,
            role="user",
            is_ai=True,
            bio=bio,
        )
        return user, True

    def bootstrap_admin(self) -> User | None:
        """Create the admin named in settings on first start; never touches an existing account."""
        name = self.settings.bootstrap_admin_username
        password = self.settings.bootstrap_admin_password.get_secret_value()
        if not name or not password:
            return None
        with self.session_factory.begin() as session:
            existing = session.scalar(sa.select(User).where(User.username_key == name.lower()))
            if existing is not None:
                return existing
        if not self.settings.is_dev:
            self.policy.check(password, username=name)
        email = self.settings.bootstrap_admin_email or None
        password_hash = self.hasher.hash(password)
        try:
            with self.session_factory.begin() as session:
                user = self._new_user(
                    session,
                    username=name,
                    email=email,
                    display_name=name,
                    password_hash=password_hash,
                    role="admin",
                    is_ai=False,
                )
        except Conflict:  # another replica bootstrapped it at the same moment
            return None
        log.info("bootstrapped admin account %s", name)
        return user

    def _ensure_free(self, session: Session, *, username: str, email: str | None) -> None:
        taken = User.username_key == username.lower()
        if email:
            taken = sa.or_(taken, User.email_key == email.lower())
        if session.scalar(sa.select(User.id).where(taken).limit(1)):
            raise username_or_email_taken()

    def _new_user(
        self,
        session: Session,
        *,
        username: str,
        email: str | None,
        display_name: str,
        password_hash: str | None,
        role: str,
        is_ai: bool,
        bio: str = "",
    ) -> User:
        now = self.clock()
        user = User(
            id=str(uuid.uuid4()),
            username=username,
            username_key=username.lower(),
            email=email,
            email_key=email.lower() if email else None,
            display_name=display_name,
            password_hash=password_hash,
            role=role,
            is_ai=is_ai,
            created_at=now,
            updated_at=now,
        )
        session.add(user)
        try:
            session.flush()
        except IntegrityError as exc:  # lost a race with a concurrent registration
            raise username_or_email_taken() from exc
        self.outbox.add(
            session,
            UserRegistered(
                user_id=user.id,
                username=user.username,
                display_name=user.display_name,
                role=role,
                is_ai=is_ai,
                bio=bio,
                created_at=now,
            ),
        )
        return user

    def get_user(self, user_id: str) -> User:
        with self.session_factory() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound("Account not found")
            return user

    def update_profile(self, user_id: str, *, display_name: str | None, email: str | None) -> User:
        with self.session_factory.begin() as session:
            user = self._lock_user(session, user_id)
            if email is not None and email.lower() != (user.email_key or ""):
                if session.scalar(sa.select(User.id).where(User.email_key == email.lower())):
                    raise Conflict("That email is already registered", code="email_taken")
                user.email, user.email_key = email, email.lower()
            if display_name is not None:
                user.display_name = display_name
            user.updated_at = self.clock()
            self._publish_updated(session, user)
            return user

    def change_password(
        self, user_id: str, *, current_password: str, new_password: str, client_ip: str
    ) -> None:
        user = self.get_user(user_id)
        self._prove_password(
            user,
            user.id,
            current_password,
            client_ip,
            refusal=Forbidden("The current password is wrong", code="wrong_password"),
        )
        self.policy.check(new_password, username=user.username, email=user.email or "")
        new_hash = self.hasher.hash(new_password)
        with self.session_factory.begin() as session:
            user = self._lock_user(session, user_id)
            user.password_hash, user.updated_at = new_hash, self.clock()
            # Every session signed in with the old password ends.
            self._revoke_all(session, user_id)

    def delete_account(self, user_id: str, *, password: str, client_ip: str) -> None:
        user = self.get_user(user_id)
        self._prove_password(
            user,
            user.id,
            password,
            client_ip,
            refusal=Forbidden("The password is wrong", code="wrong_password"),
        )
        with self.session_factory.begin() as session:
            user = self._lock_user(session, user_id)
            session.execute(sa.delete(RefreshToken).where(RefreshToken.user_id == user_id))
            session.delete(user)
            # With the event, for the processes that will not hear it (started later, or cut off).
            session.add(DeletedAccount(user_id=user_id, deleted_at=self.clock()))
            self.outbox.add(session, UserDeleted(user_id=user_id, username=user.username))

    def recent_deletions(self) -> list[DeletedAccount]:
        """The accounts deleted within the longest access-token lifetime, oldest first: their tokens
        may still be alive."""
        since = self.clock() - timedelta(seconds=MAX_ACCESS_TOKEN_TTL_SECONDS)
        with self.session_factory() as session:
            query = sa.select(DeletedAccount).where(DeletedAccount.deleted_at > since)
            return list(session.scalars(query.order_by(DeletedAccount.deleted_at)))

    def _lock_user(self, session: Session, user_id: str) -> User:
        user = session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("Account not found")
        return user

    def _publish_updated(self, session: Session, user: User) -> None:
        self.outbox.add(
            session,
            UserUpdated(
                user_id=user.id,
                username=user.username,
                display_name=user.display_name,
                role=user.role,
                is_ai=user.is_ai,
            ),
        )

    # ------------------------------------------------------------------ sign-in

    def _limits(self, account_key: str, client_ip: str) -> list[Limit]:
        return [
            Limit(f"account:{account_key}", self.settings.login_max_failures_per_account),
            Limit(f"ip:{client_ip}", self.settings.login_max_failures_per_ip),
        ]

    def _prove_password(
        self, user: User | None, account_key: str, password: str, client_ip: str, *, refusal: AppError
    ) -> None:
        """Returns when ``password`` is ``user``'s; raises ``refusal`` (and counts a failure) when it is not,
        or 429 while the account or the address has failed too often. Sign-in, password change and
        account deletion all prove a password here, so each account has one budget of guesses whichever
        route they come by. ``account_key`` is the account's id (the name of an unknown account), so the
        budget is the same whether it is named by its username or its email."""
        now = self.clock()
        limits = self._limits(account_key, client_ip)
        with self.session_factory() as session:
            wait = self.throttle.retry_after(session, limits, now)
        if wait is not None:
            raise TooManyRequests(
                f"Too many failed sign-in attempts; try again in {wait} seconds", retry_after=wait
            )
        stored_hash = user.password_hash if user is not None else None
        if self.hasher.verify(stored_hash, password) and user is not None and not user.is_ai:
            return
        with self.session_factory.begin() as session:
            self.throttle.record_failure(session, [limit.key for limit in limits], now)
        raise refusal

    def login(self, identifier: str, password: str, client_ip: str) -> TokenPair:
        """Tokens for the right password; the same 401 for an unknown account, a wrong password or
        an AI character (which has none), each after one argon2 verification."""
        key = identifier.lower()
        column = User.email_key if "@" in key else User.username_key
        with self.session_factory() as session:
            user = session.scalar(sa.select(User).where(column == key))
        self._prove_password(
            user,
            user.id if user is not None else f"name:{key}",
            password,
            client_ip,
            refusal=Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials"),
        )
        assert user is not None and user.password_hash is not None
        stored_hash = user.password_hash
        new_hash = self.hasher.hash(password) if self.hasher.needs_rehash(stored_hash) else None
        with self.session_factory.begin() as session:
            if new_hash is not None:
                session.execute(sa.update(User).where(User.id == user.id).values(password_hash=new_hash))
            return self._issue_pair(session, user, family_id=str(uuid.uuid4()))

    def _issue_pair(self, session: Session, user: User, *, family_id: str) -> TokenPair:
        now = self.clock()
        raw = secrets.token_urlsafe(32)
        session.add(
            RefreshToken(
                token_hash=hash_refresh_token(raw),
                family_id=family_id,
                user_id=user.id,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl_seconds),
            )
        )
        access = self.issuer.issue_access_token(
            user.id, username=user.username, role=user.role, is_ai=user.is_ai
        )
        return TokenPair(
            access_token=access, refresh_token=raw, expires_in=self.settings.access_token_ttl_seconds
        )

    def refresh(self, raw: str) -> TokenPair:
        """Rotate: the presented token is spent and a new one issued in its family. A spent token
        presented again means it leaked: the whole family is revoked."""
        now = self.clock()
        # Run again when InnoDB picks it as a deadlock's victim: requests waiting for the token's row
        # lock stand in the way of the winner's insert of the new token into the same index.
        pair, family_id = run_transaction(
            self.session_factory, lambda session: self._rotate(session, hash_refresh_token(raw), now)
        )
        if pair is not None:
            return pair
        log.warning("refresh token reuse in family %s: family revoked", family_id)
        raise Unauthorized("The refresh token was already used; sign in again", code="refresh_token_reused")

    def _rotate(self, session: Session, token_hash: str, now: datetime) -> tuple[TokenPair | None, str]:
        """The new pair and the family; no pair when the token was spent already (the family is
        revoked then). Raises 401 for a token that is unknown, revoked or expired."""
        # Spent by one conditional update: of requests presenting the token at once, exactly one changes
        # the row on every backend (the others wait for its row lock, or SQLite's write lock, then match
        # nothing), and a token revoked meanwhile matches nothing either.
        spent = session.execute(
            sa.update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        token = session.scalar(sa.select(RefreshToken).where(RefreshToken.token_hash == token_hash))
        if token is None or token.revoked_at is not None or token.expires_at <= now:
            raise Unauthorized("The refresh token is not valid; sign in again", code="invalid_refresh_token")
        if spent == 1:
            user = session.get(User, token.user_id)
            if user is None:
                raise Unauthorized("The account no longer exists", code="invalid_refresh_token")
            return self._issue_pair(session, user, family_id=token.family_id), token.family_id
        # Spent before, by an earlier request or one that came at the same moment: reuse.
        self._revoke_family(session, token.family_id)
        return None, token.family_id

    def logout(self, raw: str) -> None:
        with self.session_factory.begin() as session:
            token = session.scalar(
                sa.select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(raw))
            )
            if token is not None:
                self._revoke_family(session, token.family_id)

    def _revoke_family(self, session: Session, family_id: str) -> None:
        session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=self.clock())
        )

    def _revoke_all(self, session: Session, user_id: str) -> None:
        session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=self.clock())
        )

    # ------------------------------------------------------------------ service principals

    def service_token(self, client_id: str, client_secret: str) -> str:
        expected = self.settings.service_clients.get(client_id)
        # Compare against something even for an unknown client, in constant time.
        reference = expected.get_secret_value() if expected else secrets.token_urlsafe(32)
        if not hmac.compare_digest(reference.encode(), client_secret.encode()) or expected is None:
            raise Unauthorized("Invalid client credentials", code="invalid_client")
        return self.issuer.issue_access_token(
            f"service:{client_id}",
            username=client_id,
            role="service",
            ttl_seconds=self.settings.service_token_ttl_seconds,
        )
