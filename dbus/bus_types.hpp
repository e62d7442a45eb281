// The C++ types of the structured arguments in lockc's D-Bus API
// (dbus/org.lockc.Manager.xml), in one place for the daemon, lockcctl, the
// tests and the benchmarks: a signature changed in the XML is changed here
// once, and every side that does not follow fails to compile.
#pragma once

#include <sdbus-c++/Types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lockc::bus {

// a{sv}: the options every call takes, and the properties of an object.
using Options = std::map<std::string, sdbus::Variant>;

// ListContainers: (id, level, mode, runtime, state, object path).
using ContainerEntry = sdbus::Struct<std::string, std::string, std::string, std::string,
                                     std::string, sdbus::ObjectPath>;

// DescribeLevels: (level, [(kind, target, what)]).
using LevelDenialEntry = sdbus::Struct<std::string, std::string, std::string>;
using LevelEntry = sdbus::Struct<std::string, std::vector<LevelDenialEntry>>;

// One element of DeniedBatch, the fields of Denied in the same order:
// (container, level, mode, hook, target, pid, uid, comm, errno, time).
using DenialEntry =
    sdbus::Struct<std::string, std::string, std::string, std::string, std::string, std::uint32_t,
                  std::uint32_t, std::string, std::int32_t, std::uint64_t>;

// One element of DeniedCoalesced: DenialEntry's fields (time the first
// time), then the last time and the count.
using CoalescedDenialEntry =
    sdbus::Struct<std::string, std::string, std::string, std::string, std::string, std::uint32_t,
                  std::uint32_t, std::string, std::int32_t, std::uint64_t, std::uint64_t,
                  std::uint32_t>;

} // namespace lockc::bus
