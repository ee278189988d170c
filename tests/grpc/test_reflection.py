"""
Tests for L{echohub.grpc._reflection}: server reflection, v1alpha and v1,
over a real HTTP/2 client in memory.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor_pb2 import FileDescriptorProto
from twisted.trial.unittest import SynchronousTestCase

from echohub.grpc import Code
from echohub.testing import H2Client
from tests.grpc.support import SCHEMA

VERSIONS = ("v1alpha", "v1")


class ReflectionTests(SynchronousTestCase):
    """
    Each request of a reflection stream gets its answer at once, in both
    versions.
    """

    def ask(self, version: str, **request: Any) -> list[Any]:
        """
        The answers to one stream of requests, one per keyword (a keyword
        may be repeated as C{name_2}).
        """
        package = f"grpc.reflection.{version}"
        Request = SCHEMA.message(f"{package}.ServerReflectionRequest")
        Response = SCHEMA.message(f"{package}.ServerReflectionResponse")
        client = H2Client()
        messages = []
        for key, value in request.items():
            field = key.split("__")[0]
            message = Request(host="localhost")
            if field == "file_containing_extension":
                message.file_containing_extension.containing_type = value[0]
                message.file_containing_extension.extension_number = value[1]
            elif field != "nothing":
                setattr(message, field, value)
            messages.append(message.SerializeToString())
        answer = client.responses[
            client.grpc(f"{package}.ServerReflection/ServerReflectionInfo", messages)
        ].grpc()
        self.assertEqual(answer.status, 0)
        responses = [Response.FromString(m) for m in answer.messages]
        for response in responses:
            self.assertEqual(response.valid_host, "localhost")
        return responses

    def test_listServices(self) -> None:
        """
        Every service, the reflection services included.
        """
        for version in VERSIONS:
            [response] = self.ask(version, list_services="")
            self.assertEqual(
                sorted(s.name for s in response.list_services_response.service),
                sorted(SCHEMA.services),
            )
            self.assertEqual(response.original_request.list_services, "")

    def test_fileContainingSymbol(self) -> None:
        """
        A service, a method or a message: the file declaring it.
        """
        for version in VERSIONS:
            for symbol in (
                "grpc.examples.echo.Echo",
                "grpc.examples.echo.Echo.UnaryEcho",
                "grpc.examples.echo.EchoResponse",
            ):
                [response] = self.ask(version, file_containing_symbol=symbol)
                [data] = response.file_descriptor_response.file_descriptor_proto
                proto = FileDescriptorProto.FromString(data)
                self.assertEqual(proto.name, "grpc/examples/echo/echo.proto")
                self.assertEqual(
                    [m.name for m in proto.service[0].method],
                    [
                        "UnaryEcho",
                        "ServerStreamingEcho",
                        "ClientStreamingEcho",
                        "BidirectionalStreamingEcho",
                    ],
                )

    def test_fileByFilename(self) -> None:
        """
        A file by its name.
        """
        [response] = self.ask("v1", file_by_filename="grpc/health/v1/health.proto")
        [data] = response.file_descriptor_response.file_descriptor_proto
        self.assertEqual(FileDescriptorProto.FromString(data).package, "grpc.health.v1")

    def test_notFound(self) -> None:
        """
        What the server does not have is an C{error_response} with
        C{NOT_FOUND}, and the stream goes on.
        """
        responses = self.ask(
            "v1alpha",
            file_by_filename="nope.proto",
            file_containing_symbol="nope.Nope",
            file_containing_extension=("grpc.examples.echo.EchoRequest", 100),
            all_extension_numbers_of_type="nope.Nope",
            list_services__again="",
        )
        for response in responses[:4]:
            self.assertEqual(response.error_response.error_code, Code.NOT_FOUND)
        self.assertEqual(len(responses[4].list_services_response.service), 4)

    def test_extensionNumbers(self) -> None:
        """
        A known message type has no extensions.
        """
        [response] = self.ask(
            "v1", all_extension_numbers_of_type="grpc.examples.echo.EchoRequest"
        )
        numbers = response.all_extension_numbers_response
        self.assertEqual(numbers.base_type_name, "grpc.examples.echo.EchoRequest")
        self.assertEqual(list(numbers.extension_number), [])

    def test_emptyRequest(self) -> None:
        """
        A request asking nothing is C{INVALID_ARGUMENT}.
        """
        [response] = self.ask("v1", nothing=None)
        self.assertEqual(response.error_response.error_code, Code.INVALID_ARGUMENT)
