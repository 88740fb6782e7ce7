from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_body import ErrorBody
from ...models.run_stream_event import RunStreamEvent
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    id: str,
    *,
    after: int | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = last_event_id



    

    params: dict[str, Any] = {}

    params["after"] = after


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/runs/{id}/events".format(id=quote(str(id), safe=""),),
        "params": params,
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | RunStreamEvent | None:
    if response.status_code == 200:
        response_200 = RunStreamEvent.from_dict(response.text)



        return response_200

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())



        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())



        return response_404

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())



        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())



        return response_429

    if response.status_code == 500:
        response_500 = ErrorBody.from_dict(response.json())



        return response_500

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())



        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorBody | RunStreamEvent]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,

) -> Response[ErrorBody | RunStreamEvent]:
    """ The run's events as Server-Sent Events: stored events first (after `Last-Event-ID` or
    `?after=`), each with `id:` its sequence number, `event:` its kind and `data:` its JSON; then
    new ones live, with streaming text as `llm.delta` (no id, not replayed). Ends after
    `run.completed`.

    Args:
        id (str):
        after (int | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RunStreamEvent]
     """


    kwargs = _get_kwargs(
        id=id,
after=after,
last_event_id=last_event_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    id: str,
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,

) -> ErrorBody | RunStreamEvent | None:
    """ The run's events as Server-Sent Events: stored events first (after `Last-Event-ID` or
    `?after=`), each with `id:` its sequence number, `event:` its kind and `data:` its JSON; then
    new ones live, with streaming text as `llm.delta` (no id, not replayed). Ends after
    `run.completed`.

    Args:
        id (str):
        after (int | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RunStreamEvent
     """


    return sync_detailed(
        id=id,
client=client,
after=after,
last_event_id=last_event_id,

    ).parsed

async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,

) -> Response[ErrorBody | RunStreamEvent]:
    """ The run's events as Server-Sent Events: stored events first (after `Last-Event-ID` or
    `?after=`), each with `id:` its sequence number, `event:` its kind and `data:` its JSON; then
    new ones live, with streaming text as `llm.delta` (no id, not replayed). Ends after
    `run.completed`.

    Args:
        id (str):
        after (int | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RunStreamEvent]
     """


    kwargs = _get_kwargs(
        id=id,
after=after,
last_event_id=last_event_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    last_event_id: int | None | Unset = UNSET,

) -> ErrorBody | RunStreamEvent | None:
    """ The run's events as Server-Sent Events: stored events first (after `Last-Event-ID` or
    `?after=`), each with `id:` its sequence number, `event:` its kind and `data:` its JSON; then
    new ones live, with streaming text as `llm.delta` (no id, not replayed). Ends after
    `run.completed`.

    Args:
        id (str):
        after (int | Unset):
        last_event_id (int | None | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RunStreamEvent
     """


    return (await asyncio_detailed(
        id=id,
client=client,
after=after,
last_event_id=last_event_id,

    )).parsed
