"""OCI SDK clients, built once per container (the SDK leaks memory when signers and
clients are created per call) and pointed at overridable endpoints.

Auth: resource principals inside OCI Functions; the OCI config file for the operator
command. Endpoint overrides (settings `OCI_OBJECTSTORAGE_ENDPOINT`,
`OCI_LOGGING_INGESTION_ENDPOINT`, `OCI_SECRETS_ENDPOINT`, `OCI_MONITORING_ENDPOINT`, ...)
let the same code talk to private endpoints or to loopback test servers.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

from auditship.config import Settings
from auditship.errors import ConfigError, CredentialsRejectedError, SourceError
from auditship.timeouts import bounded, watch_client

_RAW = {"skip_deserialization": True}
SECRET_READ_SECONDS = 10.0  # the whole request for the token
_SECRET_TTL_SECONDS = 300  # re-read the Vault secret now and then so rotations take effect
# PostMetricData is served by telemetry-ingestion, not by the `telemetry` endpoint the SDK's
# MonitoringClient defaults to (its post_metric_data docstring); the domain is the region's
# realm's, as the SDK resolves it (oraclecloud.com in OC1).
TELEMETRY_INGESTION = "https://telemetry-ingestion.{region}.{secondLevelDomain}"
MONITORING_TIMEOUT = (2.0, 3.0)  # (connect, read) s: metrics must not hold a run (metrics.py)


class OciClients:
    def __init__(
        self,
        settings: Settings,
        *,
        auth: str = "resource_principal",
        config_file: str | None = None,
        profile: str = "DEFAULT",
    ) -> None:
        import oci

        self._settings = settings
        if auth == "resource_principal":
            self._signer = oci.auth.signers.get_resource_principals_signer()
            self._config: dict[str, Any] = {"region": self._signer.region}
        elif auth == "config_file":
            location = config_file or oci.config.DEFAULT_LOCATION
            try:
                self._config = oci.config.from_file(location, profile)
                self._signer = oci.signer.Signer.from_config(self._config)
            except Exception as exc:  # the SDK raises a dozen types for a broken config
                raise ConfigError(_config_problem(location, profile, exc)) from None
        else:
            raise ConfigError(f"unknown auth mode {auth!r}")
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._secret_cache: dict[str, tuple[float, str]] = {}

    def _client(self, kind: str, region: str = "") -> Any:
        import oci

        with self._lock:
            client = self._clients.get((kind, region))
            if client is not None:
                return client
            cls, endpoint, extra = _factory(kind, self._settings)
            config = dict(self._config)
            if region:
                config["region"] = region
            kwargs: dict[str, Any] = {"signer": self._signer, **extra}
            if endpoint:
                kwargs["service_endpoint"] = _in_region(endpoint, region or self.region)
            # Our own loops retry with the function's deadline in mind; the SDK's default
            # strategy could sleep for minutes past it.
            kwargs["retry_strategy"] = oci.retry.NoneRetryStrategy()
            # The SDK's process-wide circuit breaker would turn a burst of 503s into 30 s of
            # refusals for every client; retries and give-ups are decided by our loops.
            kwargs["circuit_breaker_strategy"] = oci.circuit_breaker.NoCircuitBreakerStrategy()
            client = cls(config, **kwargs)
            # Every request of ours gets a total time limit (timeouts.bounded).
            watch_client(client)
            self._clients[(kind, region)] = client
            return client

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def region(self) -> str:
        return str(self._config.get("region") or "")

    @property
    def tenancy_id(self) -> str:
        """The tenancy of these credentials (the config file's `tenancy`, or the resource
        principal's `res_tenant` claim)."""
        tenancy = self._config.get("tenancy") or getattr(self._signer, "tenancy_id", "")
        if not tenancy:
            raise ConfigError("the credentials do not name a tenancy")
        return str(tenancy)

    @property
    def identity(self) -> Any:
        return self._client("identity")

    def audit(self, region: str) -> Any:
        return self._client("audit", region)

    def data_safe(self, region: str) -> Any:
        return self._client("datasafe", region)

    @property
    def functions(self) -> Any:
        return self._client("functions")

    def invoke(self, endpoint: str) -> Any:
        """The invoke client of a function's own endpoint (`Function.invoke_endpoint`), or
        of `OCI_FUNCTIONS_INVOKE_ENDPOINT` when set."""
        if self._settings.functions_invoke_endpoint:
            return self._client("invoke")
        import oci

        with self._lock:
            client = self._clients.get(("invoke", endpoint))
            if client is None:
                client = oci.functions.FunctionsInvokeClient(
                    dict(self._config),
                    signer=self._signer,
                    service_endpoint=endpoint,
                    retry_strategy=oci.retry.NoneRetryStrategy(),
                    circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy(),
                )
                watch_client(client)
                self._clients[("invoke", endpoint)] = client
            return client

    @property
    def object_storage(self) -> Any:
        return self._client("objectstorage")

    @property
    def logging_ingestion(self) -> Any:
        return self._client("ingestion")

    @property
    def monitoring(self) -> Any:
        """PostMetricData (telemetry-ingestion) in this region, or OCI_MONITORING_ENDPOINT."""
        return self._client("monitoring")

    def secret_text(self, secret_ocid: str) -> str:
        """The current value of a Vault secret (base64 content decoded as UTF-8)."""
        import oci

        now = time.monotonic()
        cached = self._secret_cache.get(secret_ocid)
        if cached and now - cached[0] < _SECRET_TTL_SECONDS:
            return cached[1]
        try:
            with bounded(SECRET_READ_SECONDS):
                bundle = self._client("secrets").get_secret_bundle(secret_id=secret_ocid)
            content = bundle.data.secret_bundle_content.content
            text = base64.b64decode(content).decode("utf-8").strip()
        except oci.exceptions.ServiceError as exc:
            if exc.status in (401, 403, 404):
                raise CredentialsRejectedError(
                    f"cannot read the Logz.io token secret (HTTP {exc.status} {exc.code}); "
                    "check the function's policy: read secret-bundles for that secret"
                ) from None
            raise SourceError(f"reading the token secret failed with HTTP {exc.status}") from None
        except (ValueError, UnicodeDecodeError, AttributeError):
            raise ConfigError("the token secret's content is not base64 UTF-8 text") from None
        except Exception as exc:  # network errors: worth another try (the sink retries)
            name = type(exc).__name__
            raise SourceError(f"reading the token secret failed ({name})") from None
        if not text:
            raise ConfigError("the token secret is empty")
        self._secret_cache[secret_ocid] = (now, text)
        return text


def _factory(kind: str, s: Settings) -> tuple[Any, str, dict[str, Any]]:
    """The client class of `kind`, its endpoint override and extra arguments. Imported on
    demand: the SDK loads a service's package (seconds for Data Safe's models, without
    byte-code) on first touch, so only what a run uses is loaded."""
    import oci

    if kind == "objectstorage":
        return oci.object_storage.ObjectStorageClient, s.objectstorage_endpoint, {}
    if kind == "ingestion":
        return oci.loggingingestion.LoggingClient, s.logging_ingestion_endpoint, {}
    if kind == "secrets":
        return oci.secrets.SecretsClient, s.secrets_endpoint, {}
    # API sources keep the wire JSON (camelCase, fields newer than the SDK):
    # `skip_deserialization` (oci base_client.py) hands pages over unparsed.
    if kind == "identity":
        return oci.identity.IdentityClient, s.identity_endpoint, _RAW
    if kind == "audit":
        return oci.audit.AuditClient, s.audit_endpoint, _RAW
    if kind == "datasafe":
        return oci.data_safe.DataSafeClient, s.datasafe_endpoint, _RAW
    if kind == "functions":
        return oci.functions.FunctionsManagementClient, s.functions_endpoint, {}
    if kind == "invoke":
        return oci.functions.FunctionsInvokeClient, s.functions_invoke_endpoint, {}
    if kind == "monitoring":
        endpoint = s.monitoring_endpoint or TELEMETRY_INGESTION
        return oci.monitoring.MonitoringClient, endpoint, {"timeout": MONITORING_TIMEOUT}
    raise ValueError(f"unknown client {kind!r}")


def _in_region(endpoint: str, region: str) -> str:
    """`endpoint` with `{region}` (and `{secondLevelDomain}`, the realm's domain) filled."""
    if "{secondLevelDomain}" in endpoint:
        import oci

        # The service name is not used when a template is given.
        filled = oci.regions.endpoint_for("monitoring", region, service_endpoint_template=endpoint)
        return str(filled)
    return endpoint.replace("{region}", region)


def _config_problem(location: str, profile: str, exc: Exception) -> str:
    """One line saying what is wrong with the OCI config file (the SDK's own text, without
    its link to the docs; it names keys and paths, never key material)."""
    text = " ".join(str(exc).split()).split(" For more info", 1)[0]
    if len(text) > 300:
        text = text[:300] + "..."
    return f"OCI config file {location} [{profile}]: {type(exc).__name__}: {text}"
