"""The password policy: one problem code per rule, in a fixed order."""

from __future__ import annotations

import pytest

from bastion.security.errors import (
    PasswordBreached,
    PasswordContainsAppName,
    PasswordContainsEmail,
    PasswordRejected,
    PasswordTooCommon,
    PasswordTooLong,
    PasswordTooShort,
)
from bastion.security.policy import PasswordPolicy, bundled_common_passwords
from bastion.security.settings import SecuritySettings

pytestmark = pytest.mark.security


class FakeBreaches:
    """A breach checker over a fixed set of passwords (the HIBP one is tested on a server)."""

    def __init__(self, *breached: str) -> None:
        self.breached = set(breached)
        self.asked: list[str] = []

    async def breach_count(self, password: str) -> int:
        self.asked.append(password)
        return 7 if password in self.breached else 0


@pytest.fixture
def policy() -> PasswordPolicy:
    return PasswordPolicy(min_length=12, max_length=64, app_name="Taskboard")


async def test_a_long_unusual_password_passes(policy: PasswordPolicy) -> None:
    await policy.validate("correct horse battery staple", email="ann.lee@example.com")
    await policy.validate("x" * 64)
    # No composition rules: lowercase letters and spaces only are fine.
    await policy.validate("plain lowercase words")


@pytest.mark.parametrize(
    ("password", "error", "code"),
    [
        ("short", PasswordTooShort, "password.too_short"),
        ("x" * 11, PasswordTooShort, "password.too_short"),
        ("x" * 65, PasswordTooLong, "password.too_long"),
        ("my taskboard secret", PasswordContainsAppName, "password.contains_app_name"),
        ("MY-TASKBOARD-SECRET", PasswordContainsAppName, "password.contains_app_name"),
        ("1qaz2wsx3edc", PasswordTooCommon, "password.common"),
        ("Q1W2E3R4T5Y6", PasswordTooCommon, "password.common"),
    ],
)
async def test_each_rule_has_its_code(
    policy: PasswordPolicy, password: str, error: type[PasswordRejected], code: str
) -> None:
    with pytest.raises(error) as caught:
        await policy.validate(password)
    assert caught.value.code == code
    assert caught.value.status == 422


async def test_length_errors_say_the_bound(policy: PasswordPolicy) -> None:
    with pytest.raises(PasswordTooShort) as short:
        await policy.validate("abc")
    assert short.value.extensions == {"min_length": 12}
    with pytest.raises(PasswordTooLong) as long:
        await policy.validate("a" * 100)
    assert long.value.extensions == {"max_length": 64}


@pytest.mark.parametrize(
    ("email", "refused"),
    [
        ("ann.lee@example.com", True),
        ("ANN.LEE@example.com", True),
        ("bob@example.com", False),
        ("al@example.com", False),  # under 3 characters: too likely by chance
        ("not an email", False),
        (None, False),
    ],
)
async def test_the_email_name_is_refused_when_long_enough(
    policy: PasswordPolicy, email: str | None, refused: bool
) -> None:
    password = "hello Ann.Lee and al, 2026"
    if refused:
        with pytest.raises(PasswordContainsEmail):
            await policy.validate(password, email=email)
    else:
        await policy.validate(password, email=email)


async def test_breached_passwords_are_refused_after_the_cheap_rules() -> None:
    breaches = FakeBreaches("a breached passphrase")
    policy = PasswordPolicy(breach_checker=breaches)
    with pytest.raises(PasswordBreached) as caught:
        await policy.validate("a breached passphrase")
    assert caught.value.code == "password.breached"
    await policy.validate("an unbreached passphrase")
    with pytest.raises(PasswordTooShort):
        await policy.validate("short")
    assert breaches.asked == ["a breached passphrase", "an unbreached passphrase"]


def test_the_bundled_list_holds_ten_thousand_lowercase_passwords() -> None:
    common = bundled_common_passwords()
    assert len(common) >= 9_900  # a few collide once lowered
    assert {"123456", "password", "iloveyou", "qwertyuiop"} <= common
    assert all(p == p.casefold() and p.strip() == p for p in common)
    assert not any(p.startswith("#") for p in common)


async def test_a_list_of_your_own_replaces_the_bundled_one() -> None:
    policy = PasswordPolicy(min_length=4, common_passwords=frozenset({"hunter2"}))
    await policy.validate("password")
    with pytest.raises(PasswordTooCommon):
        await policy.validate("HUNTER2")


def test_from_settings_takes_the_lengths() -> None:
    settings = SecuritySettings(password_min_length=15, password_max_length=200)
    policy = PasswordPolicy.from_settings(settings, app_name="Shop")
    assert (policy.min_length, policy.max_length) == (15, 200)
    with pytest.raises(ValueError, match="larger than"):
        PasswordPolicy(min_length=20, max_length=10)
