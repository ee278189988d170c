# -*- test-case-name: tests.grpc.test_schema -*-
"""
The protocol buffer schema of echohub's gRPC services: the echo, health
checking and server reflection (C{v1alpha} and C{v1}).

The C{.proto} files ship in C{protos/} (for a reader, and for a client that
wants them: C{grpcurl -import-path ... -proto ...}); C{protos/descriptors.binpb}
is what C{protoc} compiles from them (C{make protos}; a test compiles them
again and compares).  Google's C{protobuf} package reads that descriptor set
into a pool of echohub's own, not its global default pool, so that another
copy of the health or reflection files in the same process (grpcio's
packages, in a test) cannot clash with it, and makes the message classes
from it.  The same serialized files answer server reflection.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import Any

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FileDescriptor
from google.protobuf.descriptor_pb2 import FileDescriptorProto, FileDescriptorSet

ECHO_FILE = "grpc/examples/echo/echo.proto"
HEALTH_FILE = "grpc/health/v1/health.proto"
REFLECTION_FILES = (
    "grpc/reflection/v1alpha/reflection.proto",
    "grpc/reflection/v1/reflection.proto",
)

ECHO_PACKAGE = "grpc.examples.echo"
ECHO_SERVICE = f"{ECHO_PACKAGE}.Echo"
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICES = (
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)


def loadDescriptorSet() -> FileDescriptorSet:
    """
    Read the descriptor set shipped as package data.
    """
    data = resources.files("echohub.grpc") / "protos" / "descriptors.binpb"
    return FileDescriptorSet.FromString(data.read_bytes())


class Schema:
    """
    The files, message classes and symbols of echohub's services.

    @ivar files: each file's C{FileDescriptorProto}, serialized, by name.
    @ivar services: the full name of every service, in the files' order.
    """

    def __init__(self, descriptors: FileDescriptorSet | None = None) -> None:
        if descriptors is None:
            descriptors = loadDescriptorSet()
        self._pool = descriptor_pool.DescriptorPool()
        self.files: dict[str, bytes] = {}
        self._dependencies: dict[str, list[str]] = {}
        self._symbols: dict[str, str] = {}
        self.services: list[str] = []
        for proto in descriptors.file:
            serialized = proto.SerializeToString()
            # What generated modules call: the most stable way in.
            self._pool.AddSerializedFile(serialized)
            self.files[proto.name] = serialized
            self._dependencies[proto.name] = list(proto.dependency)
            for symbol in _symbols(proto):
                self._symbols[symbol] = proto.name
            prefix = f"{proto.package}." if proto.package else ""
            self.services.extend(prefix + s.name for s in proto.service)

    def message(self, name: str) -> Any:
        """
        The message class of the fully-qualified type C{name}.
        """
        return message_factory.GetMessageClass(self._pool.FindMessageTypeByName(name))

    def descriptor(self, name: str) -> Descriptor:
        """
        The descriptor of the fully-qualified message type C{name}.
        """
        return self._pool.FindMessageTypeByName(name)

    def file(self, name: str) -> FileDescriptor:
        """
        The descriptor of the file C{name}.
        """
        return self._pool.FindFileByName(name)

    def fileContaining(self, symbol: str) -> str | None:
        """
        The name of the file declaring the fully-qualified C{symbol} (a
        package, message, field, enum, enum value, service or method), or
        L{None}.
        """
        return self._symbols.get(symbol.lstrip("."))

    def withDependencies(self, name: str) -> list[bytes]:
        """
        The serialized file C{name} and, after it, every file it depends
        on, each once.
        """
        found: list[str] = []
        pending = [name]
        while pending:
            current = pending.pop(0)
            if current not in found and current in self.files:
                found.append(current)
                pending.extend(self._dependencies[current])
        return [self.files[n] for n in found]


def _symbols(proto: FileDescriptorProto) -> Iterator[str]:
    """
    Every fully-qualified symbol C{proto} declares.
    """
    package = proto.package
    prefix = f"{package}." if package else ""
    if package:
        yield package

    def messages(parent: str, types: Any) -> Iterator[str]:
        for message in types:
            name = parent + message.name
            yield name
            for field in message.field:
                yield f"{name}.{field.name}"
            for oneof in message.oneof_decl:
                yield f"{name}.{oneof.name}"
            yield from enums(name + ".", message.enum_type)
            yield from messages(name + ".", message.nested_type)

    def enums(parent: str, types: Any) -> Iterator[str]:
        for enum in types:
            yield parent + enum.name
            # Enum values are scoped by the enum's parent, as in C++.
            yield from (parent + value.name for value in enum.value)

    yield from messages(prefix, proto.message_type)
    yield from enums(prefix, proto.enum_type)
    for service in proto.service:
        name = prefix + service.name
        yield name
        yield from (f"{name}.{method.name}" for method in service.method)
