using Lrml.Training;

namespace Lrml.Tests.Training;

public class EarlyStoppingTests
{
    [Fact]
    public void StopsAfterPatienceEvaluationsWithoutImprovement()
    {
        var s = new EarlyStopping(patience: 2);
        Assert.True(s.Observe(1, 0.30));
        Assert.True(s.Observe(2, 0.35));
        Assert.False(s.Observe(3, 0.35));   // equal is not an improvement
        Assert.False(s.ShouldStop);
        Assert.False(s.Observe(4, 0.34));
        Assert.True(s.ShouldStop);
        Assert.Equal(2, s.BestEpoch);
        Assert.Equal(0.35, s.Best);
        Assert.Throws<ArgumentException>(() => s.Observe(5, double.NaN));
    }
}
