from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.create_mcp_server_headers_type_0 import CreateMcpServerHeadersType0





T = TypeVar("T", bound="CreateMcpServer")



@_attrs_define
class CreateMcpServer:
    """ An MCP server to register (`POST /v1/mcp-servers`).

        Attributes:
            name (str): 1 to 32 characters of a-z, 0-9, '-' and '_', starting with a letter or digit. Example: tickets.
            url (str): The server's streamable HTTP endpoint: an http(s) URL of at most 2048 bytes. The
                same egress rules as the `http_fetch` tool apply (private, loopback, link-local and
                metadata addresses are refused unless the operator allowlisted them). Example: https://mcp.example.com/mcp.
            headers (CreateMcpServerHeadersType0 | None | Unset): Sent with every request (e.g. `Authorization`): at most
                16, names of at most 128
                bytes, values of at most 4096. Write-only: never shown again.
     """

    name: str
    url: str
    headers: CreateMcpServerHeadersType0 | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.create_mcp_server_headers_type_0 import CreateMcpServerHeadersType0 # noqa: PLC0415
        name = self.name

        url = self.url

        headers: dict[str, Any] | None | Unset
        if isinstance(self.headers, Unset):
            headers = UNSET
        elif isinstance(self.headers, CreateMcpServerHeadersType0):
            headers = self.headers.to_dict()
        else:
            headers = self.headers


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "name": name,
            "url": url,
        })
        if headers is not UNSET:
            field_dict["headers"] = headers

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.create_mcp_server_headers_type_0 import CreateMcpServerHeadersType0 # noqa: PLC0415
        d = dict(src_dict)
        name = d.pop("name")

        url = d.pop("url")

        def _parse_headers(data: object) -> CreateMcpServerHeadersType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                headers_type_0 = CreateMcpServerHeadersType0.from_dict(data)



                return headers_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CreateMcpServerHeadersType0 | None | Unset, data)

        headers = _parse_headers(d.pop("headers", UNSET))


        create_mcp_server = cls(
            name=name,
            url=url,
            headers=headers,
        )

        return create_mcp_server

