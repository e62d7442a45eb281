// The container objects' announcements of one main-loop pass: in order,
// and nothing about a container that came and went within the pass.
#include "container_announcements.hpp"

#include <gtest/gtest.h>

namespace lockc {
namespace {

using Kind = ContainerAnnouncement::Kind;

TEST(ContainerAnnouncements, KeepTheOrderOfThePassAndAreTakenOnce) {
    ContainerAnnouncements a;
    a.added("a");
    a.changed("b", {"Level"});
    a.removed("c");
    const std::vector<ContainerAnnouncement> expected = {
        {Kind::Added, "a", {}}, {Kind::Changed, "b", {"Level"}}, {Kind::Removed, "c", {}}};
    EXPECT_EQ(a.take(), expected);
    EXPECT_TRUE(a.take().empty());
}

TEST(ContainerAnnouncements, AContainerAddedAndRemovedInOnePassIsNotAnnounced) {
    ContainerAnnouncements a;
    a.added("x");
    a.added("gone");
    a.changed("gone", {"Level", "Mode"});
    a.removed("gone");
    EXPECT_EQ(a.take(), (std::vector<ContainerAnnouncement>{{Kind::Added, "x", {}}}));
}

TEST(ContainerAnnouncements, ChangesOfAContainerThatGoesAreDroppedButItsRemovalIsNot) {
    ContainerAnnouncements a;
    a.changed("old", {"Level"});
    a.removed("old");
    EXPECT_EQ(a.take(), (std::vector<ContainerAnnouncement>{{Kind::Removed, "old", {}}}));
}

// Removed, registered again under the same name, removed again: the first
// removal concerns the container subscribers knew, and must reach them.
TEST(ContainerAnnouncements, AnEarlierIncarnationsRemovalIsKept) {
    ContainerAnnouncements a;
    a.removed("n");
    a.added("n");
    a.removed("n");
    EXPECT_EQ(a.take(), (std::vector<ContainerAnnouncement>{{Kind::Removed, "n", {}}}));

    a.removed("m");
    a.added("m");
    EXPECT_EQ(a.take(), (std::vector<ContainerAnnouncement>{{Kind::Removed, "m", {}},
                                                            {Kind::Added, "m", {}}}));
}

} // namespace
} // namespace lockc
