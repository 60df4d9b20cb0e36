"""The JSON API: every action the pages take, for other tools to script (see /openapi.json).

A session is bound to the ``synthpatient_session`` cookie (any client that keeps cookies, such
as ``httpx.Client``, works). Only an explicit action starts one: a page view, or
``POST /api/session`` for a script; an API call that needs a session and has none is answered
401 and creates nothing (why: ``sessions.py``). Long actions return a job; poll
``GET /api/jobs/{id}`` until its status is ``done`` or ``failed``. Errors are
``{"error": "one line"}`` with a 4xx status, or 503 when the server is full.

    api = httpx.Client(base_url="http://127.0.0.1:8000")
    api.post("/api/session")                      # once; the cookie is kept by the client
    api.post("/api/uploads", files={"file": open("table.csv", "rb")})
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response
from starlette.requests import ClientDisconnect

from synthpatient.errors import DataError
from synthpatient.web import cohorts, tables
from synthpatient.web.jobs import Job, JobKind, JobRunner
from synthpatient.web.models import (
    BundledIn,
    ChatIn,
    ColumnOut,
    DownloadOut,
    ErrorOut,
    GenerateIn,
    HistoryTableOut,
    JobOut,
    LimitsOut,
    MessageOut,
    PlotOut,
    ResultOut,
    SessionOut,
    SynthesizerOut,
    TimelineOut,
    UploadOut,
    VerdictOut,
)
from synthpatient.web.results import Result, jsonable
from synthpatient.web.sessions import COOKIE, Session
from synthpatient.web.settings import Settings
from synthpatient.web.tables import NotFoundError, Upload

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": what}
    for code, what in (
        (400, "Bad input, with a one-line message"),
        (401, "No session (start one: POST /api/session), or the server's token is needed"),
        (404, "No such item in this session"),
        (409, "A job is already running"),
        (413, "The upload is too large"),
        (422, "The request body is not valid"),
    )
}

FULL: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorOut,
        "description": "The server is full: every session holds someone's work; try again later",
    }
}
#: a 401 with this header means "no session" (not "no token"): the pages then start one
SESSION_HEADER = "X-Synthpatient-Session"

router = APIRouter(prefix="/api", responses=ERRORS)


def current_session(request: Request) -> Session:
    """This client's session; 401 when it has none (an API call never creates one)."""
    session = getattr(request.state, "session", None)
    if session is None:
        minutes = settings_of(request).idle_timeout_s / 60
        raise HTTPException(
            401,
            "No session: open the app's page first, or start one with "
            f"POST /api/session (a session ends after {minutes:g} minutes "
            "without a request, and when the server stops).",
            headers={SESSION_HEADER: "none"},
        )
    return session


def ensure_session(request: Request) -> Session:
    """This client's session, started when it has none: for a page view or POST /api/session,
    the explicit starts (the middleware sets the cookie and releases the hold).

    Raises:
        CapacityError: the server is full (503).
    """
    session = getattr(request.state, "session", None)
    if session is None:
        session = request.app.state.store.create()
        request.state.session = session
        request.state.new_session = session
    return session


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def runner_of(request: Request) -> JobRunner:
    return request.app.state.runner


SessionDep = Annotated[Session, Depends(current_session)]
SettingsDep = Annotated[Settings, Depends(settings_of)]
RunnerDep = Annotated[JobRunner, Depends(runner_of)]


# -- helpers ----------------------------------------------------------------------------------
def _job_out(job: Job) -> JobOut:
    result = job.result if isinstance(job.result, dict) else {}
    message = result if job.kind == "chat" and result else None
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        stage=job.stage,
        progress=job.progress,
        elapsed_s=round(job.elapsed_s, 1),
        remaining_s=None if job.remaining_s is None else round(job.remaining_s, 1),
        cancelling=job.cancel_event.is_set() and job.status in ("queued", "running"),
        error=job.error,
        message=MessageOut(**message) if message else None,
        result_id=result.get("result_id"),
    )


def _start(
    session: Session, settings: Settings, runner: JobRunner, kind: JobKind, work: Any
) -> JobOut:
    job = runner.submit(session, kind, work)
    job.done_event.wait(settings.job_wait_s)
    return _job_out(job)


def _upload_out(upload: Upload) -> UploadOut:
    return UploadOut(
        id=upload.id,
        filename=upload.filename,
        size_bytes=upload.size_bytes,
        n_rows=upload.n_rows,
        n_columns=len(upload.columns),
        columns=[ColumnOut.model_validate(c) for c in upload.columns],
        flagged=upload.flagged,
        timeline=TimelineOut(**upload.timeline.to_out()) if upload.timeline else None,
        notices=upload.notices,
        too_small=upload.too_small,
    )


def _history_table(base: str, r: Result, table: dict[str, Any]) -> HistoryTableOut:
    """A cohort's history table with its downloads (the keys it names, in r.downloads)."""
    downloads = [
        DownloadOut(
            format=key,
            label=r.downloads[key].label,
            filename=r.downloads[key].filename,
            url=f"{base}/downloads/{key}",
        )
        for key in table["downloads"]
        if key in r.downloads
    ]
    return HistoryTableOut(
        name=table["name"], what=table["what"], n_rows=table["n_rows"], downloads=downloads
    )


def _result(session: Session, result_id: str) -> Result:
    result = session.results.get(result_id)
    if result is None:
        raise NotFoundError("No such result in this session (results end with the session).")
    return result


# -- general ----------------------------------------------------------------------------------
@router.get("/health", summary="Is the server up?")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post(
    "/session",
    response_model=SessionOut,
    responses=FULL,
    summary="Start a session (scripts; the pages start one themselves)",
)
def start_session(request: Request, settings: SettingsDep) -> SessionOut:
    """Sets the ``synthpatient_session`` cookie; keep it for the next calls. With a valid
    session already, that one is kept (``created: false``)."""
    created = getattr(request.state, "session", None) is None
    session = ensure_session(request)
    return SessionOut(
        created=created,
        cookie=COOKIE,
        idle_minutes=settings.idle_timeout_s / 60,
        holds_work=session.holds_work,
    )


@router.get("/limits", response_model=LimitsOut, summary="Upload and row limits")
def limits(settings: SettingsDep) -> LimitsOut:
    return LimitsOut(
        max_upload_mb=settings.max_upload_mb,
        max_upload_rows=settings.max_upload_rows,
        max_upload_columns=settings.max_upload_columns,
        min_rows=settings.min_rows,
        max_rows=settings.max_rows,
        max_fhir_patients=settings.max_fhir_patients,
        max_message_chars=cohorts.MAX_MESSAGE_CHARS,
        upload_suffixes=list(tables.SUFFIXES),
    )


@router.get("/jobs/{job_id}", response_model=JobOut, summary="Status of a job (poll it)")
def job_status(job_id: str, session: SessionDep) -> JobOut:
    job = session.jobs.get(job_id)
    if job is None:
        raise NotFoundError("No such job in this session.")
    return _job_out(job)


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobOut,
    summary="Stop a job; whatever it wrote is removed",
)
def job_cancel(job_id: str, session: SessionDep) -> JobOut:
    """The job stops at the end of its current step (poll it: its status becomes
    ``cancelled``) and leaves no file and no result. A job that has already ended is
    returned as it is."""
    job = session.jobs.get(job_id)
    if job is None:
        raise NotFoundError("No such job in this session.")
    job.cancel()
    return _job_out(job)


# -- chat -------------------------------------------------------------------------------------
@router.get("/chat", response_model=list[MessageOut], summary="The conversation so far")
def chat_history(session: SessionDep) -> list[dict[str, Any]]:
    return list(session.messages)


@router.post("/chat", response_model=JobOut, summary="Send a request, follow-up or question")
def chat_send(
    body: ChatIn, session: SessionDep, settings: SettingsDep, runner: RunnerDep
) -> JobOut:
    """Answers within a second or two (``status: done`` with ``message``); 'yes' to a
    proposed request starts generation: poll the job for progress."""
    return _start(
        session, settings, runner, "chat", cohorts.chat_work(session, settings, body.text)
    )


@router.post("/chat/confirm", response_model=JobOut, summary="Generate the proposed request")
def chat_confirm(session: SessionDep, settings: SettingsDep, runner: RunnerDep) -> JobOut:
    return _start(session, settings, runner, "chat", cohorts.chat_work(session, settings, None))


@router.post("/chat/reset", response_model=list[MessageOut], summary="Start a new conversation")
def chat_reset(session: SessionDep) -> list[dict[str, Any]]:
    with session.lock:
        if session.busy:
            from synthpatient.web.jobs import BusyError

            raise BusyError("A request is still running; wait for it to finish.")
        session.conversation = None
        session.messages.clear()
    return []


# -- tables -----------------------------------------------------------------------------------
@router.get(
    "/synthesizers",
    response_model=list[SynthesizerOut],
    summary="Generators, and whether each can run here",
)
def synthesizers() -> list[dict[str, Any]]:
    return tables.synthesizer_choices()


UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "The table (size limit: GET /api/limits).",
                    }
                },
            }
        }
    },
}


@router.post(
    "/uploads",
    response_model=UploadOut,
    summary="Upload a CSV, TSV or Parquet table",
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def upload(request: Request, session: SessionDep, settings: SettingsDep) -> UploadOut:
    """Streamed: the size limit is enforced while the body arrives, and an upload over it is
    refused (413) at that point, with nothing of it kept."""
    try:
        found = await tables.receive_upload(
            session,
            settings,
            request.headers.get("content-type", ""),
            request.headers.get("content-length"),
            request.stream(),
        )
    except ClientDisconnect:
        raise DataError("The upload stopped before its end; nothing of it was kept.") from None
    return _upload_out(found)


@router.post(
    "/uploads/bundled",
    response_model=UploadOut,
    summary="Use a bundled real table instead of uploading one",
)
def upload_bundled(body: BundledIn, session: SessionDep, settings: SettingsDep) -> UploadOut:
    return _upload_out(tables.bundled_upload(session, settings, body.dataset))


@router.get("/uploads/{upload_id}", response_model=UploadOut, summary="An uploaded table's columns")
def upload_info(upload_id: str, session: SessionDep) -> UploadOut:
    found = session.uploads.get(upload_id)
    if found is None:
        raise NotFoundError("No such upload in this session.")
    return _upload_out(found)


@router.delete(
    "/uploads/{upload_id}",
    status_code=204,
    response_class=Response,
    summary="Delete an uploaded table now",
)
def upload_delete(upload_id: str, session: SessionDep) -> Response:
    tables.remove_upload(session, upload_id)
    return Response(status_code=204)


@router.post(
    "/generate", response_model=JobOut, summary="Learn an uploaded table and generate rows"
)
def generate(
    body: GenerateIn, session: SessionDep, settings: SettingsDep, runner: RunnerDep
) -> JobOut:
    request = tables.TableRequest(
        upload_id=body.upload_id,
        synthesizer=body.synthesizer,
        n_rows=body.n_rows,
        conditions=tuple(body.conditions),
        seed=body.seed,
        identifiers=tuple(body.identifiers),
        learn=tuple(body.learn),
        target=body.target,
        holdout=body.holdout,
        rules=body.rules,
        epsilon=body.epsilon,
    )
    found = tables.check_request(session, settings, request)
    return _start(
        session, settings, runner, "table", tables.table_work(session, settings, found, request)
    )


# -- results ----------------------------------------------------------------------------------
@router.get("/results", response_model=list[dict[str, Any]], summary="This session's results")
def results_list(session: SessionDep) -> list[dict[str, Any]]:
    return [
        {"id": r.id, "kind": r.kind, "title": r.title, "n_rows": r.n_rows}
        for r in list(session.results.values())
    ]


@router.get(
    "/results/{result_id}",
    response_model=ResultOut,
    summary="Preview, plots, checks, provenance and downloads",
)
def result(result_id: str, session: SessionDep) -> ResultOut:
    r = _result(session, result_id)
    base = f"/api/results/{r.id}"
    return ResultOut(
        id=r.id,
        kind=r.kind,
        title=r.title,
        n_rows=r.n_rows,
        n_patients=r.n_patients,
        summary=r.summary,
        verdict=VerdictOut.model_validate(r.verdict) if r.verdict else None,
        tables=[_history_table(base, r, t) for t in r.tables],
        columns=r.columns,
        preview=r.preview,
        plots=[
            PlotOut(title=p.title, alt=p.alt, url=f"{base}/plots/{i}")
            for i, p in enumerate(r.plots)
        ],
        scores=jsonable(r.scores),
        targets=jsonable(r.targets),
        rules=jsonable(r.rules),
        notices=r.notices,
        provenance=jsonable(r.provenance),
        downloads=[
            DownloadOut(
                format=key, label=d.label, filename=d.filename, url=f"{base}/downloads/{key}"
            )
            for key, d in r.downloads.items()
        ],
        datacard=_datacard(r),
        distributions=r.distributions,
        correlations=r.correlations,
        timelines=r.timelines,
    )


def _datacard(r: Result) -> dict[str, Any] | None:
    """The result's data card, written on first request like its other files."""
    import json

    if "datacard_json" not in r.downloads:
        return None
    card: dict[str, Any] = json.loads(r.file("datacard_json").read_text(encoding="utf-8"))
    return card


@router.get(
    "/results/{result_id}/plots/{index}",
    summary="A plot (PNG)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def plot(result_id: str, index: int, session: SessionDep) -> Response:
    r = _result(session, result_id)
    if not 0 <= index < len(r.plots):
        raise NotFoundError(f"This result has {len(r.plots)} plots (0 to {len(r.plots) - 1}).")
    return Response(
        r.plots[index].png,
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=3600"},
    )


@router.get(
    "/results/{result_id}/downloads/{fmt}",
    summary="Download a file of a result",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download(result_id: str, fmt: str, session: SessionDep) -> FileResponse:
    """``fmt`` is one of the result's download keys: csv, parquet, fhir, report, provenance,
    and for cohorts observations_csv (with a follow-up, each history table as
    ``<table>_csv`` and ``<table>_parquet``: see the result's ``tables``), for tables scores."""
    r = _result(session, result_id)
    if fmt not in r.downloads:
        raise NotFoundError(f"This result offers: {', '.join(r.downloads)}.")
    spec = r.downloads[fmt]
    return FileResponse(r.file(fmt), media_type=spec.media_type, filename=spec.filename)
