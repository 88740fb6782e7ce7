from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.tool_object_input_schema_type_0 import ToolObjectInputSchemaType0





T = TypeVar("T", bound="ToolObject")



@_attrs_define
class ToolObject:
    """ A tool declared as an object: a built-in tool (with `requires_approval`), or a webhook tool
    (`"type": "webhook"`) that POSTs the model's input to `url`, signed with `secret`.

        Attributes:
            name (str): A built-in tool's name; for a webhook tool, 1 to 64 characters of a-z, A-Z, 0-9, '_'
                and '-' that no built-in tool has.
            description (None | str | Unset): Webhook tools: declared to the model; at most 4 KiB.
            input_schema (None | ToolObjectInputSchemaType0 | Unset): Webhook tools: a JSON Schema object for the input, at
                most 16 KiB (default
                `{"type":"object"}`); each input is validated against it before the call.
            requires_approval (bool | Unset): Each call waits for a human decision (`POST /v1/runs/{id}/approvals`).
            secret (None | str | Unset): Webhook tools: signs each call (Standard Webhooks); 1 to 256 characters. Never
                shown
                again.
            type_ (None | str | Unset): `builtin` (the default) or `webhook`.
            url (None | str | Unset): Webhook tools: an http(s) URL of at most 2048 bytes.
     """

    name: str
    description: None | str | Unset = UNSET
    input_schema: None | ToolObjectInputSchemaType0 | Unset = UNSET
    requires_approval: bool | Unset = UNSET
    secret: None | str | Unset = UNSET
    type_: None | str | Unset = UNSET
    url: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.tool_object_input_schema_type_0 import ToolObjectInputSchemaType0 # noqa: PLC0415
        name = self.name

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        input_schema: dict[str, Any] | None | Unset
        if isinstance(self.input_schema, Unset):
            input_schema = UNSET
        elif isinstance(self.input_schema, ToolObjectInputSchemaType0):
            input_schema = self.input_schema.to_dict()
        else:
            input_schema = self.input_schema

        requires_approval = self.requires_approval

        secret: None | str | Unset
        if isinstance(self.secret, Unset):
            secret = UNSET
        else:
            secret = self.secret

        type_: None | str | Unset
        if isinstance(self.type_, Unset):
            type_ = UNSET
        else:
            type_ = self.type_

        url: None | str | Unset
        if isinstance(self.url, Unset):
            url = UNSET
        else:
            url = self.url


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "name": name,
        })
        if description is not UNSET:
            field_dict["description"] = description
        if input_schema is not UNSET:
            field_dict["input_schema"] = input_schema
        if requires_approval is not UNSET:
            field_dict["requires_approval"] = requires_approval
        if secret is not UNSET:
            field_dict["secret"] = secret
        if type_ is not UNSET:
            field_dict["type"] = type_
        if url is not UNSET:
            field_dict["url"] = url

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.tool_object_input_schema_type_0 import ToolObjectInputSchemaType0 # noqa: PLC0415
        d = dict(src_dict)
        name = d.pop("name")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))


        def _parse_input_schema(data: object) -> None | ToolObjectInputSchemaType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                input_schema_type_0 = ToolObjectInputSchemaType0.from_dict(data)



                return input_schema_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ToolObjectInputSchemaType0 | Unset, data)

        input_schema = _parse_input_schema(d.pop("input_schema", UNSET))


        requires_approval = d.pop("requires_approval", UNSET)

        def _parse_secret(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        secret = _parse_secret(d.pop("secret", UNSET))


        def _parse_type_(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        type_ = _parse_type_(d.pop("type", UNSET))


        def _parse_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        url = _parse_url(d.pop("url", UNSET))


        tool_object = cls(
            name=name,
            description=description,
            input_schema=input_schema,
            requires_approval=requires_approval,
            secret=secret,
            type_=type_,
            url=url,
        )

        return tool_object

