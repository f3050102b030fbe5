"""Errors a user can hit while managing models, each saying what went wrong and what to do.

`hub_errors` turns huggingface_hub's and the HTTP client's exceptions into these,
so the app and the command line show one line instead of a traceback.
"""

from __future__ import annotations

import errno
from contextlib import contextmanager

import httpx2
from huggingface_hub import constants
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from .registry import base_name



class HubError(Exception):
    """Base class: str(error) is the message to show."""


class OfflineError(HubError):
    pass


class RepoNotFound(HubError):
    pass


class GatedRepo(HubError):
    pass


class DiskFull(HubError):
    pass


class DownloadCancelled(HubError):
    pass


class DownloadInterrupted(HubError):
    pass


class NotCached(HubError):
    pass


class PairOverridesInvalid(HubError):
    pass


@contextmanager
def hub_errors(repo_id: str, revision: str | None = None):
    """Re-raise huggingface_hub and network failures about repo_id as HubError subclasses."""
    endpoint = constants.ENDPOINT
    try:
        yield
    except HubError:
        raise
    except OfflineModeIsEnabled as error:
        raise OfflineError(
            "offline mode is on (HF_HUB_OFFLINE is set), so the hub cannot be reached; unset HF_HUB_OFFLINE to "
            "search or pull, or use a model already on disk (`dflash-tui models list`)"
        ) from error
    except GatedRepoError as error:
        raise GatedRepo(
            f"{repo_id} is gated: accept its terms at {endpoint}/{repo_id}, log in with `hf auth login` "
            "(or set HF_TOKEN), then pull again"
        ) from error
    except RevisionNotFoundError as error:
        raise RepoNotFound(
            f"{repo_id} has no revision {revision!r}: leave --revision out to get the main branch"
        ) from error
    except RepositoryNotFoundError as error:
        raise RepoNotFound(
            f"no model repo {repo_id} on {endpoint} (or it is private and you are not logged in): check the "
            f"name (org/name), or look for it with `dflash-tui models search {base_name(repo_id)}`"
        ) from error
    except HFValidationError as error:
        raise RepoNotFound(
            f"{repo_id!r} is not a repo id: use org/name, e.g. mlx-community/Qwen3-8B-4bit"
        ) from error
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "an error"
        raise HubError(f"{endpoint} answered {status} for {repo_id}: try again later") from error
    except (httpx2.ConnectError, httpx2.ConnectTimeout) as error:
        raise OfflineError(
            f"cannot reach {endpoint} ({error}): check the network connection; models already on disk "
            "still work (`dflash-tui models list`)"
        ) from error
    except httpx2.TimeoutException as error:
        raise OfflineError(f"{endpoint} did not answer in time: check the network connection and try again") from error
    except PermissionError as error:
        raise HubError(
            f"cannot write {error.filename}: permission denied; fix that folder's permissions or point HF_HOME "
            "at a folder you own"
        ) from error
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise DiskFull(
                f"the disk filled up while writing {repo_id}: free some space, then pull again to resume"
            ) from error
        raise
