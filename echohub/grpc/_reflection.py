# -*- test-case-name: tests.grpc.test_reflection -*-
"""
gRPC server reflection (grpc/grpc C{doc/server-reflection.md}), in both
versions clients speak: C{grpc.reflection.v1alpha} (grpcurl 1.8 and older
clients) and C{grpc.reflection.v1}, from the same schema, so that
C{grpcurl list}, C{describe} and calls work with no C{.proto} file.

Each request of the stream gets its answer at once: the services
(C{list_services}); a file and the files it depends on, serialized
(C{file_by_filename}, C{file_containing_symbol}); no extension
(C{file_containing_extension}, C{all_extension_numbers_of_type}: echohub's
files declare none).  What the schema does not hold is an
C{error_response} with C{NOT_FOUND}, and the stream goes on.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from echohub.grpc._call import Call, Handler, Method
from echohub.grpc._schema import REFLECTION_SERVICES, Schema
from echohub.grpc._wire import Code


class _Info(Handler):
    """
    C{ServerReflectionInfo}: one answer per request.
    """

    def __init__(self, call: Call, schema: Schema, response: Any) -> None:
        super().__init__(call)
        self.schema = schema
        self.response = response

    def received(self, request: Any) -> None:
        schema = self.schema
        answer = self.response(valid_host=request.host)
        answer.original_request.CopyFrom(request)
        kind = request.WhichOneof("message_request")
        if kind == "list_services":
            for name in schema.services:
                answer.list_services_response.service.add(name=name)
        elif kind == "file_by_filename":
            name = request.file_by_filename
            if name in schema.files:
                self._files(answer, name)
            else:
                self._error(answer, Code.NOT_FOUND, f"file {name!r} not found")
        elif kind == "file_containing_symbol":
            symbol = request.file_containing_symbol
            found = schema.fileContaining(symbol)
            if found is not None:
                self._files(answer, found)
            else:
                self._error(answer, Code.NOT_FOUND, f"symbol {symbol!r} not found")
        elif kind == "file_containing_extension":
            extension = request.file_containing_extension
            self._error(
                answer,
                Code.NOT_FOUND,
                f"no extension {extension.extension_number} of"
                f" {extension.containing_type!r}",
            )
        elif kind == "all_extension_numbers_of_type":
            name = request.all_extension_numbers_of_type
            try:
                schema.descriptor(name)
            except KeyError:
                self._error(answer, Code.NOT_FOUND, f"type {name!r} not found")
            else:
                answer.all_extension_numbers_response.base_type_name = name
        else:
            self._error(answer, Code.INVALID_ARGUMENT, "no request in the message")
        self.call.send(answer)

    def _files(self, answer: Any, name: str) -> None:
        answer.file_descriptor_response.file_descriptor_proto.extend(
            self.schema.withDependencies(name)
        )

    @staticmethod
    def _error(answer: Any, code: Code, message: str) -> None:
        answer.error_response.error_code = code
        answer.error_response.error_message = message


def reflectionMethods(schema: Schema) -> list[Method]:
    """
    C{ServerReflectionInfo} of both reflection services.
    """
    methods = []
    for service in REFLECTION_SERVICES:
        package = service.rsplit(".", 1)[0]
        methods.append(
            Method(
                f"/{service}/ServerReflectionInfo".encode(),
                schema.message(f"{package}.ServerReflectionRequest"),
                True,
                True,
                partial(
                    _Info,
                    schema=schema,
                    response=schema.message(f"{package}.ServerReflectionResponse"),
                ),
            )
        )
    return methods
