using Lrml.Models;
using Lrml.Protocols;

namespace Lrml.Tests.Models;

public class PopularityModelTests
{
    // user 0: items 0, 2; user 1: items 2, 3 (and a duplicate 2, merged); user 2: item 2 → counts 1, 0, 3, 1
    private static UserItems Train() => UserItems.FromPairs(3, 4, [0, 0, 1, 1, 1, 2], [0, 2, 2, 3, 2, 2]);

    [Fact]
    public void ScoresAreTrainingInteractionCounts()
    {
        using var model = PopularityModel.Fit(Train());
        Assert.Equal([1, 0, 3, 1], model.Counts.ToArray());
        var s = new float[4];
        model.ScorePairs([0, 1, 2, 2], [0, 1, 2, 3], s);
        Assert.Equal([1f, 0f, 3f, 1f], s);
        Assert.Equal(s[0], s[3]);   // a tie stays a tie: the evaluator's pessimistic rule decides
    }

    [Fact]
    public void ScoreAllItemsGivesEveryUserTheSameRow()
    {
        using var model = PopularityModel.Fit(Train());
        var all = new float[2 * 4];
        model.ScoreAllItems([2, 0], all);
        Assert.Equal([1f, 0f, 3f, 1f, 1f, 0f, 3f, 1f], all);
        Assert.Equal(3, model.NumUsers);
        Assert.Equal(4, model.NumItems);
    }

    [Fact]
    public void OutOfRangeIndicesAreRejected()
    {
        using var model = PopularityModel.Fit(Train());
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ScorePairs([0], [4], new float[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ScoreAllItems([3], new float[4]));
        Assert.Throws<ArgumentException>(() => model.ScoreAllItems([0], new float[3]));
    }
}
