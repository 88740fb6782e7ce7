from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="Registered")



@_attrs_define
class Registered:
    """ A registered workspace, with a login token for its admin.

        Attributes:
            expires_at (str): When the token expires (RFC 3339).
            token (str): A login token (JWT): `Authorization: Bearer <token>`.
            user_id (str):
            workspace_id (str):
     """

    expires_at: str
    token: str
    user_id: str
    workspace_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        expires_at = self.expires_at

        token = self.token

        user_id = self.user_id

        workspace_id = self.workspace_id


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "expires_at": expires_at,
            "token": token,
            "user_id": user_id,
            "workspace_id": workspace_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        expires_at = d.pop("expires_at")

        token = d.pop("token")

        user_id = d.pop("user_id")

        workspace_id = d.pop("workspace_id")

        registered = cls(
            expires_at=expires_at,
            token=token,
            user_id=user_id,
            workspace_id=workspace_id,
        )


        registered.additional_properties = d
        return registered

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
