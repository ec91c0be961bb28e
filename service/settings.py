"""The one configuration object: environment (``CASEMATCH_*``) and an optional TOML file.

    >>> s = Settings(opensearch_url=None, data_dir=Path("/tmp/cm"), engine="osmem")
    >>> s.engine_config().mode
    'osmem'

Environment variables win over the TOML file (``CASEMATCH_CONFIG`` names it,
default ``./casematch.toml`` when present). Nothing reads settings at import
time: the API serves them through a cached dependency (``service.deps``) that
tests override, and the CLI builds one per command.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from indexer.engine import EngineConfig

Permission = Literal["promote", "read_matches", "read_phi", "admin"]
DetectionProfile = Literal["enhanced", "deep_22r1", "deep_22r3"]
MergeMethod = Literal["manual", "smart", "override"]


class ApiKey(BaseModel):
    """What one API key may do and see."""

    organizations: list[str]
    permissions: list[Permission] = Field(default_factory=list)
    name: str | None = None


class TransmissionProfile(BaseModel):
    """How automated promotion treats items that arrive through one profile (P10-P16)."""

    auto_promote: bool = True
    merge_method_serious: MergeMethod = "manual"
    merge_method_non_serious: MergeMethod = "smart"
    #: The ``allow_mark_follow_up`` option: an in-flight match is marked as follow-up (P12).
    allow_mark_follow_up: bool = True
    #: Case states in which mark-as-follow-up is prohibited (``allow_mark_follow_up``).
    allow_mark_follow_up_prohibited_states: list[str] = Field(default_factory=list)
    #: Case states in which creating a follow-up version is prohibited.
    follow_up_prohibited_states: list[str] = Field(default_factory=list)
    #: The organization whose Inbox Items this profile receives (E2B intake routing).
    organization: str | None = None
    #: E2B message sender identifiers (N.2.r.2) of the partners using this profile.
    e2b_senders: list[str] = Field(default_factory=list)
    #: Automated promotion's probability gate (off when unset; ``docs/model.md``): the one
    #: open Case sharing a Case Identifier is treated as a follow-up candidate (P12-P14)
    #: only when the organization's match model gives the pair at least this probability;
    #: below it, or without a trained model, the item never merges (``promotion_failed``).
    follow_up_probability: float | None = Field(default=None, ge=0.0, le=1.0)


class OrganizationSettings(BaseModel):
    """Per-organization options."""

    detection_profile: DetectionProfile = "enhanced"
    match_inbox_items: bool | None = None
    require_minimum_case_criteria: bool | None = None
    #: Case states in which manual follow-up / mark-follow-up is refused (P4).
    prohibited_follow_up_states: list[str] = Field(default_factory=list)
    #: Inbox Item states from which ``promote`` may start (``None``: new, triage, verified).
    promotable_states: list[str] | None = None
    #: Whether the mark-as-follow-up decision is enabled (P3).
    allow_mark_follow_up: bool = True


class Settings(BaseSettings):
    """casematch settings. Every field can be set as ``CASEMATCH_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="CASEMATCH_",
        extra="ignore",
        toml_file=os.environ.get("CASEMATCH_CONFIG", "casematch.toml"),
    )

    # -- engine -------------------------------------------------------------
    #: ``auto`` (the local OpenSearch node when Java 17+ is found, else osmem), ``opensearch``
    #: (the local node) or ``osmem``; ``opensearch_url`` wins over all three.
    engine: Literal["auto", "opensearch", "osmem"] = "auto"
    opensearch_url: str | None = None
    opensearch_user: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_ca_certs: Path | None = None
    opensearch_timeout_s: float = 30.0
    data_dir: Path = Path(".casematch")
    #: Prefix of every index and alias casematch owns (tests use one per test).
    index_prefix: str = "casematch"
    #: The local node's JVM heap, HTTP port or range (the first free one is taken) and Java.
    node_heap: str = "1g"
    node_http_port: str = "9200-9299"
    java: str | None = None
    #: osmem's address; port 0 picks a free port.
    osmem_addr: str = "127.0.0.1:0"

    # -- detection ----------------------------------------------------------
    mask_phi: bool = True
    match_inbox_items: bool = True
    max_possible_matches_postmarketing: int = Field(default=100, ge=1, le=1000)
    max_possible_matches_clinical_trial: int = Field(default=20, ge=1, le=1000)
    default_detection_profile: DetectionProfile = "enhanced"
    organizations: dict[str, OrganizationSettings] = Field(default_factory=dict)
    #: How often a server looks for a newer trained match model of an organization.
    model_check_interval_s: float = Field(default=30.0, ge=0.0)

    # -- promotion ----------------------------------------------------------
    require_minimum_case_criteria: bool = False
    transmission_profiles: dict[str, TransmissionProfile] = Field(
        default_factory=lambda: {"default": TransmissionProfile()}
    )

    # -- API ----------------------------------------------------------------
    api_keys: dict[str, ApiKey] = Field(default_factory=dict)

    # -- review page (/ui) ---------------------------------------------------
    #: Signs the /ui session cookie; unset = a random secret per process (sessions
    #: then end when the server restarts). Set it when several processes serve /ui.
    ui_session_secret: SecretStr | None = None
    #: A /ui session ends after this many minutes without a request (idle expiry).
    ui_idle_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def engine_config(self) -> EngineConfig:
        """How to reach the engine these settings describe (:mod:`indexer.engine`)."""
        return EngineConfig(
            opensearch_url=self.opensearch_url,
            data_dir=self.data_dir,
            user=self.opensearch_user,
            password=(
                self.opensearch_password.get_secret_value() if self.opensearch_password else None
            ),
            ca_certs=self.opensearch_ca_certs,
            addr=self.osmem_addr,
            timeout_s=self.opensearch_timeout_s,
            engine=self.engine,
            node_heap=self.node_heap,
            node_http_port=self.node_http_port,
            java=self.java,
        )

    def organization(self, org: str) -> OrganizationSettings:
        return self.organizations.get(org) or OrganizationSettings(
            detection_profile=self.default_detection_profile
        )

    def detection_profile(self, org: str) -> DetectionProfile:
        org_settings = self.organizations.get(org)
        return org_settings.detection_profile if org_settings else self.default_detection_profile

    def match_inbox_items_for(self, org: str) -> bool:
        org_settings = self.organizations.get(org)
        if org_settings and org_settings.match_inbox_items is not None:
            return org_settings.match_inbox_items
        return self.match_inbox_items

    def max_possible_matches(self, clinical_trial: bool) -> int:
        return (
            self.max_possible_matches_clinical_trial
            if clinical_trial
            else self.max_possible_matches_postmarketing
        )

    def transmission_profile(self, name: str | None) -> TransmissionProfile:
        return self.transmission_profiles.get(name or "default") or self.transmission_profiles.get(
            "default", TransmissionProfile()
        )


#: Settings whose values are secrets: a configuration error never shows their value
#: (nor, for ``api_keys``, the keys that name its entries).
SECRET_SETTINGS: frozenset[str] = frozenset({"api_keys", "opensearch_password"})

#: What a malformed setting should look like, for the one-line configuration error.
_EXPECTED: dict[str, str] = {
    "api_keys": 'a JSON object {"<key>": {"organizations": ["ORG-A"], "permissions": '
    '["read_matches"|"promote"|"read_phi"|"admin"], "name": "<label>"}}',
    "organizations": 'a JSON object {"<org>": {"detection_profile": "enhanced", ...}}',
    "transmission_profiles": 'a JSON object {"<profile>": {"auto_promote": true, ...}}',
}


class ConfigError(Exception):
    """A malformed setting, as one line naming it and what is expected (no secret values)."""


def load_settings(**overrides: object) -> Settings:
    """:class:`Settings` from the environment and TOML file; :class:`ConfigError` when malformed.

    >>> import os; os.environ["CASEMATCH_MASK_PHI"] = "perhaps"
    >>> try:
    ...     load_settings()
    ... except ConfigError as exc:
    ...     print(exc)
    CASEMATCH_MASK_PHI: expected a boolean (true/false)
    >>> del os.environ["CASEMATCH_MASK_PHI"]
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except SettingsError as exc:
        match = re.search(r'field "(\w+)"', str(exc))
        name = match.group(1) if match else "?"
        expected = _EXPECTED.get(name, "valid JSON")
        raise ConfigError(f"{_env(name)}: not valid JSON; expected {expected}") from None


def _env(name: str) -> str:
    return f"CASEMATCH_{name.upper()}"


def _describe(exc: ValidationError) -> str:
    parts: list[str] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in err["loc"]]
        name = loc[0] if loc else "?"
        if name in SECRET_SETTINGS:
            # The entry names of api_keys are the keys themselves: never show them.
            where = ".".join(["<key>" if i == 0 else p for i, p in enumerate(loc[1:])])
            expected = _EXPECTED.get(name, "a valid value")
            reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(
                f"{_env(name)}{'.' + where if where else ''}: {reason}; expected {expected}"
            )
            continue
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "bool_parsing":
            msg = "expected a boolean (true/false)"
        elif name in _EXPECTED:
            msg = f"{msg}; expected {_EXPECTED[name]}"
        where = ".".join(loc[1:])
        parts.append(f"{_env(name)}{'.' + where if where else ''}: {msg}")
    return "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (the API's cached dependency)."""
    return load_settings()
