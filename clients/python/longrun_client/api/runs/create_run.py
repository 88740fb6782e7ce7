from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.create_run import CreateRun
from ...models.error_body import ErrorBody
from ...models.run_view import RunView
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    body: CreateRun,
    idempotency_key: None | str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key



    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/runs",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | RunView | None:
    if response.status_code == 200:
        response_200 = RunView.from_dict(response.json())



        return response_200

    if response.status_code == 202:
        response_202 = RunView.from_dict(response.json())



        return response_202

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())



        return response_401

    if response.status_code == 402:
        response_402 = ErrorBody.from_dict(response.json())



        return response_402

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())



        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())



        return response_404

    if response.status_code == 408:
        response_408 = ErrorBody.from_dict(response.json())



        return response_408

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())



        return response_409

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())



        return response_413

    if response.status_code == 415:
        response_415 = ErrorBody.from_dict(response.json())



        return response_415

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorBody | RunView]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: CreateRun,
    idempotency_key: None | str | Unset = UNSET,

) -> Response[ErrorBody | RunView]:
    """ Admits and starts a run. With an `Idempotency-Key`, a repeated submission answers 200 with
    the run the first one started, and never starts a second workflow. With
    `previous_run_id`, the run continues that finished run's conversation.

    Args:
        idempotency_key (None | str | Unset):
        body (CreateRun): A run to submit. (Serialised, it is also what an `Idempotency-Key` is
            compared by.)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RunView]
     """


    kwargs = _get_kwargs(
        body=body,
idempotency_key=idempotency_key,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    body: CreateRun,
    idempotency_key: None | str | Unset = UNSET,

) -> ErrorBody | RunView | None:
    """ Admits and starts a run. With an `Idempotency-Key`, a repeated submission answers 200 with
    the run the first one started, and never starts a second workflow. With
    `previous_run_id`, the run continues that finished run's conversation.

    Args:
        idempotency_key (None | str | Unset):
        body (CreateRun): A run to submit. (Serialised, it is also what an `Idempotency-Key` is
            compared by.)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RunView
     """


    return sync_detailed(
        client=client,
body=body,
idempotency_key=idempotency_key,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: CreateRun,
    idempotency_key: None | str | Unset = UNSET,

) -> Response[ErrorBody | RunView]:
    """ Admits and starts a run. With an `Idempotency-Key`, a repeated submission answers 200 with
    the run the first one started, and never starts a second workflow. With
    `previous_run_id`, the run continues that finished run's conversation.

    Args:
        idempotency_key (None | str | Unset):
        body (CreateRun): A run to submit. (Serialised, it is also what an `Idempotency-Key` is
            compared by.)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RunView]
     """


    kwargs = _get_kwargs(
        body=body,
idempotency_key=idempotency_key,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    body: CreateRun,
    idempotency_key: None | str | Unset = UNSET,

) -> ErrorBody | RunView | None:
    """ Admits and starts a run. With an `Idempotency-Key`, a repeated submission answers 200 with
    the run the first one started, and never starts a second workflow. With
    `previous_run_id`, the run continues that finished run's conversation.

    Args:
        idempotency_key (None | str | Unset):
        body (CreateRun): A run to submit. (Serialised, it is also what an `Idempotency-Key` is
            compared by.)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RunView
     """


    return (await asyncio_detailed(
        client=client,
body=body,
idempotency_key=idempotency_key,

    )).parsed
