#include "api_error.hpp"

#include "error.hpp"

namespace lockc::api {

namespace {

std::string_view name_of(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::KernelUnsupported:
        return kKernelUnsupported;
    case ErrorKind::InvalidArgument:
        return kInvalidArgument;
    case ErrorKind::NotFound:
        return kNotFound;
    case ErrorKind::System:
        break;
    }
    return kFailed;
}

} // namespace

ErrorReply to_error_reply(const std::exception &error) noexcept {
    try {
        if (const auto *api = dynamic_cast<const ApiError *>(&error)) {
            return {api->name(), api->what()};
        }
        if (const auto *lockc_error = dynamic_cast<const Error *>(&error)) {
            return {std::string(name_of(lockc_error->kind())), lockc_error->what()};
        }
        return {std::string(kFailed), std::string("internal error: ") + error.what()};
    } catch (...) {
        // Only allocation can fail here; an empty message still names the error.
        return {};
    }
}

} // namespace lockc::api
