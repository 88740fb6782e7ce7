from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.audit_entry_view_data_type_0 import AuditEntryViewDataType0





T = TypeVar("T", bound="AuditEntryView")



@_attrs_define
class AuditEntryView:
    """ One audited action.

        Attributes:
            action (str): What happened: `auth.register`, `auth.login`, `api_key.create`, `agent.update`, …
            actor (str): Who acted: `key:<id>`, `user:<id>`, `operator`, `system`, or `email:<hash>` for a
                failed login.
            created_at (str):
            data (AuditEntryViewDataType0 | None): Details of the action (a JSON object), or `null`.
            id (str):
            ip (None | str): The client's address, where known.
            target (None | str):
     """

    action: str
    actor: str
    created_at: str
    data: AuditEntryViewDataType0 | None
    id: str
    ip: None | str
    target: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.audit_entry_view_data_type_0 import AuditEntryViewDataType0 # noqa: PLC0415
        action = self.action

        actor = self.actor

        created_at = self.created_at

        data: dict[str, Any] | None
        if isinstance(self.data, AuditEntryViewDataType0):
            data = self.data.to_dict()
        else:
            data = self.data

        id = self.id

        ip: None | str
        ip = self.ip

        target: None | str
        target = self.target


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "action": action,
            "actor": actor,
            "created_at": created_at,
            "data": data,
            "id": id,
            "ip": ip,
            "target": target,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.audit_entry_view_data_type_0 import AuditEntryViewDataType0 # noqa: PLC0415
        d = dict(src_dict)
        action = d.pop("action")

        actor = d.pop("actor")

        created_at = d.pop("created_at")

        def _parse_data(data: object) -> AuditEntryViewDataType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                data_type_0 = AuditEntryViewDataType0.from_dict(data)



                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AuditEntryViewDataType0 | None, data)

        data = _parse_data(d.pop("data"))


        id = d.pop("id")

        def _parse_ip(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ip = _parse_ip(d.pop("ip"))


        def _parse_target(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        target = _parse_target(d.pop("target"))


        audit_entry_view = cls(
            action=action,
            actor=actor,
            created_at=created_at,
            data=data,
            id=id,
            ip=ip,
            target=target,
        )


        audit_entry_view.additional_properties = d
        return audit_entry_view

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
