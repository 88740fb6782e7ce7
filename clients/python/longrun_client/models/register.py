from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="Register")



@_attrs_define
class Register:
    """ A new workspace and its first user, an admin.

        Attributes:
            email (str): Compared lower-cased. Example: ada@example.com.
            password (str): 10 characters to 1024 bytes.
            workspace (str): The workspace's slug: 1 to 64 characters of a-z, 0-9, '-' and '_', starting with a
                letter or digit. Example: acme.
     """

    email: str
    password: str
    workspace: str





    def to_dict(self) -> dict[str, Any]:
        email = self.email

        password = self.password

        workspace = self.workspace


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "email": email,
            "password": password,
            "workspace": workspace,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        email = d.pop("email")

        password = d.pop("password")

        workspace = d.pop("workspace")

        register = cls(
            email=email,
            password=password,
            workspace=workspace,
        )

        return register

