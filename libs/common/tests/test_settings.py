"""The settings base: AIC_ prefix, .env files, refusing placeholder secrets outside dev mode."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import SecretStr, ValidationError

from aic_common.settings import ServiceSettings

pytestmark = pytest.mark.unit


class SampleSettings(ServiceSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("signing_secret",)
    service_name: str = "sample"
    signing_secret: SecretStr = SecretStr("change-me")


def test_reads_aic_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIC_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("AIC_BUS_DELIVERY_LIMIT", "7")
    monkeypatch.setenv("LOG_LEVEL", "ERROR")  # without the prefix: not ours
    settings = SampleSettings()
    assert settings.log_level == "DEBUG"
    assert settings.bus_delivery_limit == 7


def test_reads_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("AIC_DATA_DIR=/srv/aic\nAIC_SIGNING_SECRET=from-file\n", encoding="utf-8")
    settings = SampleSettings()
    assert settings.data_dir == Path("/srv/aic")
    assert settings.signing_secret.get_secret_value() == "from-file"


def test_placeholder_secret_is_accepted_in_dev_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIC_ENV", "dev")
    assert SampleSettings().signing_secret.get_secret_value() == "change-me"
    for env in ("prod", "test"):
        monkeypatch.setenv("AIC_ENV", env)
        with pytest.raises(ValidationError, match="AIC_SIGNING_SECRET must be set to a real secret"):
            SampleSettings()
    monkeypatch.setenv("AIC_SIGNING_SECRET", "   ")
    with pytest.raises(ValidationError):
        SampleSettings()
    monkeypatch.setenv("AIC_SIGNING_SECRET", "a-real-long-random-value-1f9c")
    monkeypatch.setenv("AIC_METRICS_TOKEN", "another-real-random-value-77c2")
    assert SampleSettings().signing_secret.get_secret_value().startswith("a-real")


def test_embedded_database_is_a_sqlite_file_under_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIC_DATA_DIR", "/tmp/aic-data")
    assert SampleSettings().resolved_database_url() == "sqlite:////tmp/aic-data/sample.db"
    monkeypatch.setenv("AIC_DATABASE_URL", "mysql+pymysql://u:p@db/sample")
    assert SampleSettings().resolved_database_url() == "mysql+pymysql://u:p@db/sample"


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIC_BUS_NAMESPACE", "Bad Namespace!")
    with pytest.raises(ValidationError):
        SampleSettings()
