"""
Tests for L{echohub.grpc._schema}: the shipped descriptor set is what
C{protoc} makes of the shipped C{.proto} files, the health and reflection
files have the wire contract of grpcio's own, and symbols resolve to their
files.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from google.protobuf.descriptor_pb2 import FileDescriptorProto, FileDescriptorSet
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from echohub.grpc import Schema
from echohub.grpc._schema import (
    ECHO_FILE,
    HEALTH_FILE,
    REFLECTION_FILES,
    loadDescriptorSet,
)

PROTOS = Path(__file__).resolve().parents[2] / "echohub" / "grpc" / "protos"


def compiled() -> FileDescriptorSet:
    """
    The shipped C{.proto} files compiled now, as C{make protos} compiles
    them.
    """
    if importlib.util.find_spec("grpc_tools") is None:
        raise SkipTest("grpcio-tools (the test extra) is not installed")
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "set.binpb"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTOS}",
                "--include_source_info",
                f"--descriptor_set_out={out}",
                ECHO_FILE,
                HEALTH_FILE,
                *REFLECTION_FILES,
            ],
            check=True,
            cwd=PROTOS,
        )
        return FileDescriptorSet.FromString(out.read_bytes())


def contract(proto: FileDescriptorProto) -> Any:
    """
    What a file's wire contract is made of: its package, each message's
    fields (name, number, type, label, message type), each enum's values,
    each service's methods and their streaming.
    """

    def messages(types: Any) -> Any:
        return sorted(
            (
                m.name,
                sorted(
                    (f.name, f.number, f.type, f.label, f.type_name) for f in m.field
                ),
                sorted(
                    (e.name, [(v.name, v.number) for v in e.value]) for e in m.enum_type
                ),
                messages(m.nested_type),
            )
            for m in types
        )

    return (
        proto.package,
        messages(proto.message_type),
        sorted(
            (
                s.name,
                sorted(
                    (
                        m.name,
                        m.input_type,
                        m.output_type,
                        m.client_streaming,
                        m.server_streaming,
                    )
                    for m in s.method
                ),
            )
            for s in proto.service
        ),
    )


class DescriptorSetTests(SynchronousTestCase):
    """
    The descriptor set shipped beside the C{.proto} files.
    """

    def test_upToDate(self) -> None:
        """
        C{protos/descriptors.binpb} is what C{protoc} makes of the C{.proto}
        files now: run C{make protos} after changing one.
        """
        shipped = loadDescriptorSet()
        fresh = compiled()
        for proto in (*shipped.file, *fresh.file):
            # Comment positions are protoc's own business.
            proto.ClearField("source_code_info")
        self.assertEqual(shipped, fresh)

    def test_sameContractAsGrpcio(self) -> None:
        """
        The health and reflection (v1alpha) files describe the same messages,
        fields and methods as the ones grpcio's health-checking and
        reflection packages are built from: any client of those protocols
        understands echohub's.
        """
        try:
            from grpc_health.v1 import health_pb2
            from grpc_reflection.v1alpha import reflection_pb2
        except ImportError:
            raise SkipTest(
                "grpcio-health-checking and grpcio-reflection needed"
            ) from None
        schema = Schema()
        for theirs, ours in [
            (health_pb2.DESCRIPTOR, HEALTH_FILE),
            (reflection_pb2.DESCRIPTOR, REFLECTION_FILES[0]),
        ]:
            expected = FileDescriptorProto.FromString(theirs.serialized_pb)
            actual = FileDescriptorProto.FromString(schema.files[ours])
            self.assertEqual(contract(actual), contract(expected))

    def test_versionsAlike(self) -> None:
        """
        Reflection v1 is v1alpha under another package name.
        """
        schema = Schema()
        old, new = (
            FileDescriptorProto.FromString(schema.files[f]) for f in REFLECTION_FILES
        )
        self.assertEqual(
            str(contract(old)).replace("v1alpha", "v1"), str(contract(new))
        )


class SchemaTests(SynchronousTestCase):
    """
    L{Schema}: services, message classes, symbols.
    """

    def setUp(self) -> None:
        self.schema = Schema()

    def test_services(self) -> None:
        """
        Every service of every file, fully qualified.
        """
        self.assertEqual(
            sorted(self.schema.services),
            [
                "grpc.examples.echo.Echo",
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ],
        )

    def test_messages(self) -> None:
        """
        Message classes round-trip protocol buffers.
        """
        request = self.schema.message("grpc.examples.echo.EchoRequest")
        data = request(message="hi").SerializeToString()
        self.assertEqual(data, b"\n\x02hi")
        self.assertEqual(request.FromString(data).message, "hi")

    def test_symbols(self) -> None:
        """
        Packages, services, methods, messages, fields, nested enums and their
        values resolve to their file; a leading dot is allowed; anything
        else is L{None}.
        """
        for symbol, name in [
            ("grpc.examples.echo", ECHO_FILE),
            ("grpc.examples.echo.Echo", ECHO_FILE),
            ("grpc.examples.echo.Echo.UnaryEcho", ECHO_FILE),
            (".grpc.examples.echo.EchoRequest", ECHO_FILE),
            ("grpc.examples.echo.EchoRequest.message", ECHO_FILE),
            ("grpc.health.v1.HealthCheckResponse.ServingStatus", HEALTH_FILE),
            ("grpc.health.v1.HealthCheckResponse.SERVING", HEALTH_FILE),
            ("grpc.health.v1.HealthListResponse.StatusesEntry", HEALTH_FILE),
            (
                "grpc.reflection.v1.ServerReflectionRequest.message_request",
                REFLECTION_FILES[1],
            ),
        ]:
            self.assertEqual(self.schema.fileContaining(symbol), name, symbol)
        self.assertIsNone(self.schema.fileContaining("grpc.examples.echo.Nope"))

    def test_withDependencies(self) -> None:
        """
        A file's serialized descriptor, then those of the files it imports
        (echohub's import none).
        """
        [echo] = self.schema.withDependencies(ECHO_FILE)
        self.assertEqual(FileDescriptorProto.FromString(echo).name, ECHO_FILE)
        self.assertEqual(self.schema.withDependencies("nope.proto"), [])
