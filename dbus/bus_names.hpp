// The names of lockc's D-Bus API, in one place for the daemon, lockcctl and
// the tests: the well-known bus name, the manager's object path and its
// interfaces (dbus/org.lockc.Manager.xml defines their members).
#pragma once

namespace lockc::bus {

inline constexpr const char *kBusName = "org.lockc.Manager";
inline constexpr const char *kManagerPath = "/org/lockc/Manager";
inline constexpr const char *kManagerInterface = "org.lockc.Manager";
// Each container is an object below the manager, with this interface.
inline constexpr const char *kContainerPathPrefix = "/org/lockc/Manager/container";
inline constexpr const char *kContainerInterface = "org.lockc.Container";

// SubscribeDenials' options that choose the signal: DeniedBatch, or
// DeniedCoalesced (neither: a Denied signal per denial).
inline constexpr const char *kBatchedOption = "batched";
inline constexpr const char *kCoalescedOption = "coalesced";

} // namespace lockc::bus
