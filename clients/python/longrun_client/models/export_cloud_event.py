from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.export_record import ExportRecord





T = TypeVar("T", bound="ExportCloudEvent")



@_attrs_define
class ExportCloudEvent:
    """ A ledger row as a CloudEvents 1.0 envelope (`format=cloudevents`).

        Attributes:
            data (ExportRecord): One ledger row as exported: a line of JSON Lines, the `data` of a CloudEvent, or a CSV row
                (its fields in [`COLUMNS`] order, `null` as an empty field).
            datacontenttype (str): `application/json`. Example: application/json.
            id (str): The row's idempotency key.
            source (str): `longrun/workspaces/<slug>`.
            specversion (str): `1.0`. Example: 1.0.
            subject (str): The run's id.
            time (str): When it happened (RFC 3339).
            type_ (str): `longrun.usage.v1`. Example: longrun.usage.v1.
     """

    data: ExportRecord
    datacontenttype: str
    id: str
    source: str
    specversion: str
    subject: str
    time: str
    type_: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.export_record import ExportRecord # noqa: PLC0415
        data = self.data.to_dict()

        datacontenttype = self.datacontenttype

        id = self.id

        source = self.source

        specversion = self.specversion

        subject = self.subject

        time = self.time

        type_ = self.type_


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "data": data,
            "datacontenttype": datacontenttype,
            "id": id,
            "source": source,
            "specversion": specversion,
            "subject": subject,
            "time": time,
            "type": type_,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.export_record import ExportRecord # noqa: PLC0415
        d = dict(src_dict)
        data = ExportRecord.from_dict(d.pop("data"))




        datacontenttype = d.pop("datacontenttype")

        id = d.pop("id")

        source = d.pop("source")

        specversion = d.pop("specversion")

        subject = d.pop("subject")

        time = d.pop("time")

        type_ = d.pop("type")

        export_cloud_event = cls(
            data=data,
            datacontenttype=datacontenttype,
            id=id,
            source=source,
            specversion=specversion,
            subject=subject,
            time=time,
            type_=type_,
        )


        export_cloud_event.additional_properties = d
        return export_cloud_event

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
