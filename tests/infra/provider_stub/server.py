"""Stand-in for terraform-provider-oci: serves a schema, refuses to touch any cloud.

Terraform starts this through the go-plugin handshake (tfplugin6 over gRPC on a Unix socket,
with TLS), using the generated protocol modules of the PyPI package ``tf``.  It answers:

* ``GetProviderSchema`` from the JSON written by ``schema_gen`` (``terraform providers schema
  -json`` shape), so ``terraform validate`` checks names, required arguments, types and block
  counts exactly as the real provider's schema would;
* ``Validate*`` with no diagnostics (the real provider's value validators are not modelled);
* ``UpgradeResourceState`` by returning the state unchanged (used by ``terraform test``);
* ``ConfigureProvider``, ``ReadResource``, ``PlanResourceChange``, ``ApplyResourceChange``,
  ``ImportResourceState`` and ``ReadDataSource`` with an error.  Terraform configures a
  provider before any plan, so a plain ``terraform plan``/``apply`` stops at once and nothing
  can reach OCI.  ``terraform test`` with ``mock_provider`` never calls these.

Run by the wrapper script in the filesystem mirror: ``python server.py SCHEMA_JSON``.
It imports nothing from this repository so it can run from any working directory.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
import time
from concurrent import futures
from datetime import UTC, datetime, timedelta
from typing import Any

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
REFUSAL = (
    "This is an offline stand-in for the OCI provider (tests/infra/provider_stub). "
    "It serves the schema for validate/test only and never talks to OCI."
)


def _pb() -> Any:
    from tf.gen import tfplugin_pb2

    return tfplugin_pb2


def block_to_pb(block: dict[str, Any]) -> Any:
    """Convert a schema-JSON block into a tfplugin6 Schema.Block message."""
    pb = _pb()
    attrs = [
        pb.Schema.Attribute(
            name=name,
            type=json.dumps(a["type"]).encode(),
            description=a.get("description", ""),
            required=a.get("required", False),
            optional=a.get("optional", False),
            computed=a.get("computed", False),
            sensitive=a.get("sensitive", False),
            deprecated=a.get("deprecated", False),
        )
        for name, a in sorted(block.get("attributes", {}).items())
    ]
    modes = {
        "single": pb.Schema.NestedBlock.SINGLE,
        "list": pb.Schema.NestedBlock.LIST,
        "set": pb.Schema.NestedBlock.SET,
        "map": pb.Schema.NestedBlock.MAP,
        "group": pb.Schema.NestedBlock.GROUP,
    }
    blocks = [
        pb.Schema.NestedBlock(
            type_name=name,
            block=block_to_pb(b["block"]),
            nesting=modes[b["nesting_mode"]],
            min_items=b.get("min_items", 0),
            max_items=b.get("max_items", 0),
        )
        for name, b in sorted(block.get("block_types", {}).items())
    ]
    return pb.Schema.Block(
        attributes=attrs,
        block_types=blocks,
        description=block.get("description", ""),
        deprecated=block.get("deprecated", False),
    )


def schema_to_pb(schema: dict[str, Any]) -> Any:
    return _pb().Schema(version=schema.get("version", 0), block=block_to_pb(schema["block"]))


def load_schema(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    (provider,) = doc["provider_schemas"].values()
    return provider


def make_servicer(provider: dict[str, Any]) -> Any:
    """Build the gRPC servicer; split out so tests can call it without Terraform."""
    import grpc  # noqa: F401  (imported for its side effect of loading the runtime)
    from tf.gen import tfplugin_pb2_grpc as rpc

    pb = _pb()
    provider_schema = schema_to_pb(provider["provider"])
    resources = {k: schema_to_pb(v) for k, v in provider.get("resource_schemas", {}).items()}
    data_sources = {k: schema_to_pb(v) for k, v in provider.get("data_source_schemas", {}).items()}

    def refuse(what: str) -> list[Any]:
        return [
            pb.Diagnostic(
                severity=pb.Diagnostic.ERROR,
                summary=f"{what} is not supported by the offline OCI stand-in provider",
                detail=REFUSAL,
            )
        ]

    class StubProvider(rpc.ProviderServicer):  # type: ignore[misc]
        def GetMetadata(self, request: Any, context: Any) -> Any:
            return pb.GetMetadata.Response(
                server_capabilities=pb.ServerCapabilities(get_provider_schema_optional=False),
                resources=[pb.GetMetadata.ResourceMetadata(type_name=t) for t in resources],
                data_sources=[pb.GetMetadata.DataSourceMetadata(type_name=t) for t in data_sources],
            )

        def GetProviderSchema(self, request: Any, context: Any) -> Any:
            return pb.GetProviderSchema.Response(
                provider=provider_schema,
                provider_meta=pb.Schema(version=0, block=pb.Schema.Block()),
                resource_schemas=resources,
                data_source_schemas=data_sources,
            )

        def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
            return pb.ValidateProviderConfig.Response()

        def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
            return pb.ValidateResourceConfig.Response()

        def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
            return pb.ValidateDataResourceConfig.Response()

        def UpgradeResourceState(self, request: Any, context: Any) -> Any:
            return pb.UpgradeResourceState.Response(
                upgraded_state=pb.DynamicValue(json=request.raw_state.json or b"null")
            )

        def ConfigureProvider(self, request: Any, context: Any) -> Any:
            return pb.ConfigureProvider.Response(diagnostics=refuse("ConfigureProvider"))

        def ReadResource(self, request: Any, context: Any) -> Any:
            return pb.ReadResource.Response(diagnostics=refuse("ReadResource"))

        def PlanResourceChange(self, request: Any, context: Any) -> Any:
            return pb.PlanResourceChange.Response(diagnostics=refuse("PlanResourceChange"))

        def ApplyResourceChange(self, request: Any, context: Any) -> Any:
            return pb.ApplyResourceChange.Response(diagnostics=refuse("ApplyResourceChange"))

        def ImportResourceState(self, request: Any, context: Any) -> Any:
            return pb.ImportResourceState.Response(diagnostics=refuse("ImportResourceState"))

        def ReadDataSource(self, request: Any, context: Any) -> Any:
            return pb.ReadDataSource.Response(diagnostics=refuse("ReadDataSource"))

        def GetFunctions(self, request: Any, context: Any) -> Any:
            return pb.GetFunctions.Response()

        def StopProvider(self, request: Any, context: Any) -> Any:
            return pb.StopProvider.Response()

    return StubProvider()


def _self_signed() -> tuple[bytes, bytes, bytes]:
    """A throwaway certificate for go-plugin's AutoMTLS (kept in memory only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.ExtendedKeyUsageOID.SERVER_AUTH, x509.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        key_pem,
        cert.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.DER),
    )


def serve(schema_path: str) -> int:
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        print(
            "This binary is a plugin. These are not meant to be executed directly.\n" + REFUSAL,
            file=sys.stderr,
        )
        return 1
    import grpc
    from tf.gen import grpc_controller_pb2 as controller_pb
    from tf.gen import grpc_controller_pb2_grpc as controller_rpc
    from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
    from tf.gen import tfplugin_pb2_grpc as rpc

    stopped = False

    class Controller(controller_rpc.GRPCControllerServicer):  # type: ignore[misc]
        def Shutdown(self, request: Any, context: Any) -> Any:
            nonlocal stopped
            stopped = True
            return controller_pb.Empty()

    class Stdio(stdio_rpc.GRPCStdioServicer):  # type: ignore[misc]
        def StreamStdio(self, request: Any, context: Any) -> Any:
            return iter(())

    servicer = make_servicer(load_schema(schema_path))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    rpc.add_ProviderServicer_to_server(servicer, server)
    controller_rpc.add_GRPCControllerServicer_to_server(Controller(), server)
    stdio_rpc.add_GRPCStdioServicer_to_server(Stdio(), server)

    # go-plugin AutoMTLS: Terraform pins the certificate printed in the handshake line.  The
    # socket lives in a private temp dir, so client certificates are not checked.
    key_pem, cert_pem, cert_der = _self_signed()
    creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], require_client_auth=False)
    with tempfile.TemporaryDirectory(prefix="oci-stub-") as tmp:
        sock = os.path.join(tmp, "plugin.sock")
        server.add_secure_port(f"unix://{sock}", creds)
        server.start()
        cert_b64 = base64.b64encode(cert_der).decode().rstrip("=")
        print(f"1|6|unix|{sock}|grpc|{cert_b64}", flush=True)
        original_ppid = os.getppid()
        try:
            while not stopped and os.getppid() == original_ppid:
                time.sleep(0.05)
        except KeyboardInterrupt:
            pass
        server.stop(grace=0.2)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: server.py SCHEMA_JSON", file=sys.stderr)
        return 2
    return serve(args[0])


if __name__ == "__main__":
    raise SystemExit(main())
