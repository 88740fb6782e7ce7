from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset






T = TypeVar("T", bound="RunStreamEvent")



@_attrs_define
class RunStreamEvent:
    """ One event of `GET /v1/runs/{id}/events`, as an SSE frame's fields. (axum's `Event` writes
    the frames; this type only describes them.)

        Attributes:
            data (str): The event's fields, as a JSON object.
            event (str): The kind: `run.started`, `llm.delta` (streaming text, live only), `llm.completed`,
                `llm.error`, `tool.started`, `tool.completed`, `approval.requested`,
                `approval.decided`, `input.requested`, `input.received`, `quota.alert`,
                `quota.paused`, `quota.resumed`, and last `run.completed`. Example: run.completed.
            id (str | Unset): The event's sequence number in the run, to send back as `Last-Event-ID`; live
                `llm.delta` events have none.
     """

    data: str
    event: str
    id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        data = self.data

        event = self.event

        id = self.id


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "data": data,
            "event": event,
        })
        if id is not UNSET:
            field_dict["id"] = id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        data = d.pop("data")

        event = d.pop("event")

        id = d.pop("id", UNSET)

        run_stream_event = cls(
            data=data,
            event=event,
            id=id,
        )


        run_stream_event.additional_properties = d
        return run_stream_event

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
