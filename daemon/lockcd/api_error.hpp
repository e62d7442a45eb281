// Errors that lockcd's D-Bus methods return, by org.lockc.Error.* name.
// One exception type for the service layer; the D-Bus objects turn it (and
// anything else thrown) into a D-Bus error reply.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace lockc::api {

inline constexpr std::string_view kNotFound = "org.lockc.Error.NotFound";
inline constexpr std::string_view kAlreadyRegistered = "org.lockc.Error.AlreadyRegistered";
inline constexpr std::string_view kInvalidLevel = "org.lockc.Error.InvalidLevel";
inline constexpr std::string_view kInvalidMode = "org.lockc.Error.InvalidMode";
inline constexpr std::string_view kInvalidArgument = "org.lockc.Error.InvalidArgument";
inline constexpr std::string_view kInvalidConfig = "org.lockc.Error.InvalidConfig";
inline constexpr std::string_view kKernelUnsupported = "org.lockc.Error.KernelUnsupported";
inline constexpr std::string_view kLimitsExceeded = "org.lockc.Error.LimitsExceeded";
inline constexpr std::string_view kFailed = "org.lockc.Error.Failed";
inline constexpr std::string_view kAccessDenied = "org.freedesktop.DBus.Error.AccessDenied";

class ApiError : public std::runtime_error {
  public:
    ApiError(std::string_view name, const std::string &message)
        : std::runtime_error(message), name_(name) {}
    [[nodiscard]] const std::string &name() const noexcept { return name_; }

  private:
    std::string name_;
};

// The D-Bus error for any exception: ApiError keeps its name, lockc::Error
// maps by kind, anything else is Failed. Never throws.
struct ErrorReply {
    std::string name;
    std::string message;
};
[[nodiscard]] ErrorReply to_error_reply(const std::exception &error) noexcept;

} // namespace lockc::api
