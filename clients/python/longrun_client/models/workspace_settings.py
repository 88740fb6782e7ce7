from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="WorkspaceSettings")



@_attrs_define
class WorkspaceSettings:
    """ The workspace's settings after an update.

        Attributes:
            alert_webhook_url (None | str):
            webhook_events (list[str] | None):
            webhook_url (None | str):
     """

    alert_webhook_url: None | str
    webhook_events: list[str] | None
    webhook_url: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        alert_webhook_url: None | str
        alert_webhook_url = self.alert_webhook_url

        webhook_events: list[str] | None
        if isinstance(self.webhook_events, list):
            webhook_events = self.webhook_events


        else:
            webhook_events = self.webhook_events

        webhook_url: None | str
        webhook_url = self.webhook_url


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "alert_webhook_url": alert_webhook_url,
            "webhook_events": webhook_events,
            "webhook_url": webhook_url,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_alert_webhook_url(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        alert_webhook_url = _parse_alert_webhook_url(d.pop("alert_webhook_url"))


        def _parse_webhook_events(data: object) -> list[str] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                webhook_events_type_0 = cast(list[str], data)

                return webhook_events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None, data)

        webhook_events = _parse_webhook_events(d.pop("webhook_events"))


        def _parse_webhook_url(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        webhook_url = _parse_webhook_url(d.pop("webhook_url"))


        workspace_settings = cls(
            alert_webhook_url=alert_webhook_url,
            webhook_events=webhook_events,
            webhook_url=webhook_url,
        )


        workspace_settings.additional_properties = d
        return workspace_settings

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
