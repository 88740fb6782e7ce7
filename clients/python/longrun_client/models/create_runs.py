from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.create_run import CreateRun





T = TypeVar("T", bound="CreateRuns")



@_attrs_define
class CreateRuns:
    """ Runs to submit together.

        Attributes:
            runs (list[CreateRun]): 1 to 100 runs, each as `POST /v1/runs` takes it; an item's `idempotency_key` makes
                it safe to retry.
     """

    runs: list[CreateRun]





    def to_dict(self) -> dict[str, Any]:
        from ..models.create_run import CreateRun # noqa: PLC0415
        runs = []
        for runs_item_data in self.runs:
            runs_item = runs_item_data.to_dict()
            runs.append(runs_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "runs": runs,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.create_run import CreateRun # noqa: PLC0415
        d = dict(src_dict)
        runs = []
        _runs = d.pop("runs")
        for runs_item_data in (_runs):
            runs_item = CreateRun.from_dict(runs_item_data)



            runs.append(runs_item)


        create_runs = cls(
            runs=runs,
        )

        return create_runs

