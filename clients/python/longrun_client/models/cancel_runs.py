from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.cancel_runs_metadata_type_0 import CancelRunsMetadataType0





T = TypeVar("T", bound="CancelRuns")



@_attrs_define
class CancelRuns:
    """ Which live runs to cancel: every condition given must hold; at least one is needed.

        Attributes:
            agent (None | str | Unset): The agent's name.
            metadata (CancelRunsMetadataType0 | None | Unset): Metadata pairs the runs must have: up to 8, scalar values.
            status (list[str] | None | Unset): Live statuses (`queued`, `running`, `waiting_input`, `waiting_approval`,
                `paused_quota`, `waiting_provider`, `requires_action`), each once; default: all of them. Example:
                ['waiting_approval'].
     """

    agent: None | str | Unset = UNSET
    metadata: CancelRunsMetadataType0 | None | Unset = UNSET
    status: list[str] | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.cancel_runs_metadata_type_0 import CancelRunsMetadataType0 # noqa: PLC0415
        agent: None | str | Unset
        if isinstance(self.agent, Unset):
            agent = UNSET
        else:
            agent = self.agent

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, CancelRunsMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        status: list[str] | None | Unset
        if isinstance(self.status, Unset):
            status = UNSET
        elif isinstance(self.status, list):
            status = self.status


        else:
            status = self.status


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if agent is not UNSET:
            field_dict["agent"] = agent
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if status is not UNSET:
            field_dict["status"] = status

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.cancel_runs_metadata_type_0 import CancelRunsMetadataType0 # noqa: PLC0415
        d = dict(src_dict)
        def _parse_agent(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        agent = _parse_agent(d.pop("agent", UNSET))


        def _parse_metadata(data: object) -> CancelRunsMetadataType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = CancelRunsMetadataType0.from_dict(data)



                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CancelRunsMetadataType0 | None | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))


        def _parse_status(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                status_type_0 = cast(list[str], data)

                return status_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        status = _parse_status(d.pop("status", UNSET))


        cancel_runs = cls(
            agent=agent,
            metadata=metadata,
            status=status,
        )

        return cancel_runs

