// Ring buffer records: decode_event() takes any bytes (a record of another
// ABI version, a truncated one) and either refuses them or returns an
// event whose every field describe() can show.
#include "events.hpp"
#include "fuzz_support.hpp"

#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    const auto event = lockc::decode_event(std::as_bytes(std::span(data, size)));
    if (event) {
        (void)lockc::describe(*event);
    }
    return 0;
}
