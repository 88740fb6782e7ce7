from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="UpdateWorkspace")



@_attrs_define
class UpdateWorkspace:
    """ 
        Attributes:
            alert_webhook_url (None | str | Unset): Where usage alerts are POSTed: an http(s) URL of at most 2048 bytes;
                `null` (or leaving
                it out) stops them.
            webhook_events (list[str] | None | Unset): The events POSTed to `webhook_url`: `approval.requested`,
                `input.requested`,
                `quota.paused`, `run.completed` (`null`: `run.completed` alone).
            webhook_url (None | str | Unset): The webhook of runs that name none (Standard Webhooks, signed with
                `webhook_secret`):
                an http(s) URL of at most 2048 bytes; `null` (or leaving it out): none.
     """

    alert_webhook_url: None | str | Unset = UNSET
    webhook_events: list[str] | None | Unset = UNSET
    webhook_url: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        alert_webhook_url: None | str | Unset
        if isinstance(self.alert_webhook_url, Unset):
            alert_webhook_url = UNSET
        else:
            alert_webhook_url = self.alert_webhook_url

        webhook_events: list[str] | None | Unset
        if isinstance(self.webhook_events, Unset):
            webhook_events = UNSET
        elif isinstance(self.webhook_events, list):
            webhook_events = self.webhook_events


        else:
            webhook_events = self.webhook_events

        webhook_url: None | str | Unset
        if isinstance(self.webhook_url, Unset):
            webhook_url = UNSET
        else:
            webhook_url = self.webhook_url


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if alert_webhook_url is not UNSET:
            field_dict["alert_webhook_url"] = alert_webhook_url
        if webhook_events is not UNSET:
            field_dict["webhook_events"] = webhook_events
        if webhook_url is not UNSET:
            field_dict["webhook_url"] = webhook_url

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_alert_webhook_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        alert_webhook_url = _parse_alert_webhook_url(d.pop("alert_webhook_url", UNSET))


        def _parse_webhook_events(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                webhook_events_type_0 = cast(list[str], data)

                return webhook_events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        webhook_events = _parse_webhook_events(d.pop("webhook_events", UNSET))


        def _parse_webhook_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        webhook_url = _parse_webhook_url(d.pop("webhook_url", UNSET))


        update_workspace = cls(
            alert_webhook_url=alert_webhook_url,
            webhook_events=webhook_events,
            webhook_url=webhook_url,
        )

        return update_workspace

