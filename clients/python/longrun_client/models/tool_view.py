from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.tool_type import ToolType
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.tool_view_input_schema import ToolViewInputSchema





T = TypeVar("T", bound="ToolView")



@_attrs_define
class ToolView:
    """ A tool of an agent as clients see it: webhook secrets are write-only.

        Attributes:
            name (str):
            requires_approval (bool):
            type_ (ToolType):
            description (str | Unset): Webhook tools only.
            has_secret (bool | Unset): Webhook tools only: whether calls are signed.
            input_schema (ToolViewInputSchema | Unset): Webhook tools only: the input's JSON schema.
            url (str | Unset): Webhook tools only.
     """

    name: str
    requires_approval: bool
    type_: ToolType
    description: str | Unset = UNSET
    has_secret: bool | Unset = UNSET
    input_schema: ToolViewInputSchema | Unset = UNSET
    url: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.tool_view_input_schema import ToolViewInputSchema # noqa: PLC0415
        name = self.name

        requires_approval = self.requires_approval

        type_ = self.type_.value

        description = self.description

        has_secret = self.has_secret

        input_schema: dict[str, Any] | Unset = UNSET
        if not isinstance(self.input_schema, Unset):
            input_schema = self.input_schema.to_dict()

        url = self.url


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "name": name,
            "requires_approval": requires_approval,
            "type": type_,
        })
        if description is not UNSET:
            field_dict["description"] = description
        if has_secret is not UNSET:
            field_dict["has_secret"] = has_secret
        if input_schema is not UNSET:
            field_dict["input_schema"] = input_schema
        if url is not UNSET:
            field_dict["url"] = url

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.tool_view_input_schema import ToolViewInputSchema # noqa: PLC0415
        d = dict(src_dict)
        name = d.pop("name")

        requires_approval = d.pop("requires_approval")

        type_ = ToolType(d.pop("type"))




        description = d.pop("description", UNSET)

        has_secret = d.pop("has_secret", UNSET)

        _input_schema = d.pop("input_schema", UNSET)
        input_schema: ToolViewInputSchema | Unset
        if isinstance(_input_schema,  Unset):
            input_schema = UNSET
        else:
            input_schema = ToolViewInputSchema.from_dict(_input_schema)




        url = d.pop("url", UNSET)

        tool_view = cls(
            name=name,
            requires_approval=requires_approval,
            type_=type_,
            description=description,
            has_secret=has_secret,
            input_schema=input_schema,
            url=url,
        )


        tool_view.additional_properties = d
        return tool_view

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
