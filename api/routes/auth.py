"""Register, log in, log out, and who am I."""

from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api import audit
from api.deps import CODEC_COOKIE, CODEC_COOKIE_PATH, CurrentUser, SessionDep, SettingsDep
from api.errors import Conflict, Unauthorized
from api.ratelimit import login_rate_limit
from api.schemas import LoginRequest, RegisterRequest, TokenResponse, UserPublic
from api.security import hash_password, verify_password
from core.config import Settings
from core.models import User

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
async def register(body: RegisterRequest, session: SessionDep, request: Request) -> User:
    """Create an account. The first account of an instance is its admin."""
    first = (await session.exec(select(func.count()).select_from(User))).one() == 0
    password_hash = await run_in_threadpool(hash_password, body.password)
    user = await _add_user(session, request, body, password_hash, founder=first)
    if user is None and first:
        # Another first registration committed at the same moment and became the admin.
        user = await _add_user(session, request, body, password_hash, founder=False)
    if user is None:
        raise Conflict("an account with this email already exists")
    return user


async def _add_user(
    session: AsyncSession,
    request: Request,
    body: RegisterRequest,
    password_hash: str,
    *,
    founder: bool,
) -> User | None:
    """The new user, or None when a unique column (email, founder) is already taken."""
    user = User(
        email=body.email.lower(),
        password_hash=password_hash,
        full_name=body.full_name,
        role="admin" if founder else "editor",
        founder=True if founder else None,
    )
    session.add(user)
    audit.record(session, request, user.id, "user.register", f"user:{user.id}", role=user.role)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return user


@router.post("/login", response_model=TokenResponse, dependencies=[Depends(login_rate_limit)])
async def login(
    body: LoginRequest,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> TokenResponse:
    """Exchange email and password for a bearer token (and the Temporal Web UI's codec
    cookie)."""
    user = (await session.exec(select(User).where(User.email == body.email.lower()))).first()
    valid = await run_in_threadpool(
        verify_password, body.password, user.password_hash if user else None
    )
    if user is None or not valid or not user.is_active:
        audit.record(session, request, None, "user.login_failed", body.email.lower())
        await session.commit()
        raise Unauthorized("wrong email or password")
    audit.record(session, request, user.id, "user.login", f"user:{user.id}")
    await session.commit()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token = request.app.state.access_tokens.issue(user.id, lifetime)
    seconds = int(lifetime.total_seconds())
    codec_token = request.app.state.codec_tokens.issue(user.id, lifetime)
    _set_codec_cookie(response, settings, codec_token, max_age=seconds)
    return TokenResponse(access_token=token, expires_in=seconds)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(response: Response, settings: SettingsDep) -> None:
    """Forget the codec cookie in this browser (bearer tokens simply expire).

    Open without a token, so a browser whose token has expired can still sign out."""
    _set_codec_cookie(response, settings, "", max_age=0)


def _set_codec_cookie(response: Response, settings: Settings, token: str, max_age: int) -> None:
    """The Temporal Web UI's credential: a token only /api/codec takes, which the browser
    sends only there. SameSite=Lax still lets the UI send it from the same site (another
    subdomain or port), and its codec requests only read (see api/routes/codec.py)."""
    response.set_cookie(
        CODEC_COOKIE,
        token,
        max_age=max_age,
        path=CODEC_COOKIE_PATH,
        secure=settings.public_url.lower().startswith("https://"),
        httponly=True,
        samesite="lax",
    )


@router.get("/me", response_model=UserPublic)
async def read_me(user: CurrentUser) -> User:
    """The signed-in user."""
    return user
