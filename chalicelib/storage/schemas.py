"""What the storage routes answer and the archive request, as the OpenAPI document describes them."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

from chalicelib.storage.formats import S3StaticProfileInput, S3StsProfileInput


class S3StaticProfile(S3StaticProfileInput):
    """A stored profile is what was given, with the id the server assigned."""

    model_config = ConfigDict(defer_build=True)

    id: str


class S3StsProfile(S3StsProfileInput):
    model_config = ConfigDict(defer_build=True)

    id: str


StorageProfile = Annotated[Union[S3StaticProfile, S3StsProfile], Field(discriminator="protocol")]


class BucketCreated(BaseModel):
    """An empty object: the bucket and its template exist now."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class ArchiveForm(TypedDict):
    """The contract's body; archiving is the only change a profile accepts."""

    archived: Literal["true"]


class ArchiveJson(TypedDict):
    archived: Literal[True]


class ProfilesQuery(TypedDict):
    """Without ``archived`` the listing has both kinds."""

    archived: NotRequired[bool]
