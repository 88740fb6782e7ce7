from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.error_detail import ErrorDetail
  from ..models.run_view import RunView





T = TypeVar("T", bound="BatchItem")



@_attrs_define
class BatchItem:
    """ What became of one item of a batch: the run, or why it was not admitted.

        Attributes:
            index (int): The item's position in the request, from 0.
            status (int): The status `POST /v1/runs` would have answered for this item: 202 started, 200 the
                run its `idempotency_key` already started, else an error's.
            error (ErrorDetail | Unset): What went wrong: a stable snake_case `code`, a message for people, and for
                admission
                refusals the figures behind them.
            run (RunView | Unset): A run as clients see it.
     """

    index: int
    status: int
    error: ErrorDetail | Unset = UNSET
    run: RunView | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.error_detail import ErrorDetail # noqa: PLC0415
        from ..models.run_view import RunView # noqa: PLC0415
        index = self.index

        status = self.status

        error: dict[str, Any] | Unset = UNSET
        if not isinstance(self.error, Unset):
            error = self.error.to_dict()

        run: dict[str, Any] | Unset = UNSET
        if not isinstance(self.run, Unset):
            run = self.run.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "index": index,
            "status": status,
        })
        if error is not UNSET:
            field_dict["error"] = error
        if run is not UNSET:
            field_dict["run"] = run

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.error_detail import ErrorDetail # noqa: PLC0415
        from ..models.run_view import RunView # noqa: PLC0415
        d = dict(src_dict)
        index = d.pop("index")

        status = d.pop("status")

        _error = d.pop("error", UNSET)
        error: ErrorDetail | Unset
        if isinstance(_error,  Unset):
            error = UNSET
        else:
            error = ErrorDetail.from_dict(_error)




        _run = d.pop("run", UNSET)
        run: RunView | Unset
        if isinstance(_run,  Unset):
            run = UNSET
        else:
            run = RunView.from_dict(_run)




        batch_item = cls(
            index=index,
            status=status,
            error=error,
            run=run,
        )


        batch_item.additional_properties = d
        return batch_item

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
