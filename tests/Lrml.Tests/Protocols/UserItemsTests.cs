using Lrml.Protocols;

namespace Lrml.Tests.Protocols;

public class UserItemsTests
{
    [Fact]
    public void FromPairsSortsMergesDuplicatesAndAnswersMembership()
    {
        var ui = UserItems.FromPairs(3, 5, new[] { 2, 0, 0, 2, 0 }, new[] { 4, 3, 1, 0, 3 });
        Assert.Equal(new[] { 0, 2, 2, 4 }, ui.Offsets);
        Assert.Equal(new[] { 1, 3 }, ui[0].ToArray());
        Assert.Equal(0, ui.CountOf(1));
        Assert.Equal(new[] { 0, 4 }, ui[2].ToArray());
        Assert.True(ui.Contains(2, 4));
        Assert.False(ui.Contains(1, 4));
        Assert.Equal(2, ui.UsersWithItems());
    }

    [Fact]
    public void OverlapDetectsSharedPair()
    {
        var a = UserItems.FromPairs(2, 4, new[] { 0, 1 }, new[] { 1, 2 });
        var b = UserItems.FromPairs(2, 4, new[] { 0, 1 }, new[] { 2, 3 });
        var c = UserItems.FromPairs(2, 4, new[] { 1 }, new[] { 2 });
        Assert.False(a.Overlaps(b));
        Assert.True(a.Overlaps(c));
    }

    [Fact]
    public void OutOfRangeIndexIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => UserItems.FromPairs(2, 3, new[] { 0 }, new[] { 3 }));
    }
}
