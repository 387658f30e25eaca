"""The numbers update_engine and Omaha servers exchange: event types, results, error codes.

Values are CoreOS update_engine's (``omaha_request_action.h``, ``action_processor.h``) as
go-omaha and Nebraska read them, so a report like "eventtype=3 eventresult=0 errorcode=12"
means here what it meant on a Container Linux machine.
"""

from __future__ import annotations

from enum import IntEnum


class EventType(IntEnum):
    UPDATE_COMPLETE = 3  # installed, or (with previousversion) rebooted into the new version
    UPDATE_DOWNLOAD_STARTED = 13
    UPDATE_DOWNLOAD_FINISHED = 14


class EventResult(IntEnum):
    ERROR = 0
    SUCCESS = 1
    SUCCESS_REBOOT = 2
    UPDATE_DEFERRED = 9


class ErrorCode(IntEnum):
    SUCCESS = 0
    ERROR = 1
    OMAHA_REQUEST_ERROR = 2
    OMAHA_RESPONSE_HANDLER_ERROR = 3
    POSTINSTALL_RUNNER_ERROR = 5
    DOWNLOAD_TRANSFER_ERROR = 9
    PAYLOAD_HASH_MISMATCH = 10
    PAYLOAD_SIZE_MISMATCH = 11
    DOWNLOAD_PAYLOAD_VERIFICATION_ERROR = 12  # the signature did not verify
    DOWNLOAD_WRITE_ERROR = 14
    NEW_ROOTFS_VERIFICATION_ERROR = 15
    DOWNLOAD_INVALID_METADATA_MAGIC = 21
    OMAHA_REQUEST_XML_PARSE_ERROR = 31
    OMAHA_RESPONSE_INVALID = 34
    OMAHA_ERROR_IN_HTTP_RESPONSE = 37
