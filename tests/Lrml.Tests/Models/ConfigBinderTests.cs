using Lrml.Experiments;
using Lrml.Models;

namespace Lrml.Tests.Models;

public class ConfigBinderTests
{
    [Fact]
    public void OverridesAreTypedAndKeyMatchingIsLenient()
    {
        var c = ConfigBinder.Apply(new LrmlConfig(), ConfigBinder.ParsePairs(new[]
            { "dim=64", "Slots=7", "margin=0.25", "distance=squared-l2", "negative_relation=recompute", "train-memory=false" }));
        Assert.Equal(64, c.Dim);
        Assert.Equal(7, c.Slots);
        Assert.Equal(0.25f, c.Margin);
        Assert.Equal(LrmlDistance.SquaredL2, c.Distance);
        Assert.Equal(NegativeRelation.Recompute, c.NegativeRelation);
        Assert.False(c.TrainMemory);
        Assert.Equal(new LrmlConfig().LearningRate, c.LearningRate);
    }

    [Fact]
    public void UnknownKeyOrBadValueFailsWithTheValidKeys()
    {
        var ex = Assert.Throws<ArgumentException>(() => ConfigBinder.Apply(new LrmlConfig(), ConfigBinder.ParsePairs(new[] { "slot=3" })));
        Assert.Contains("slots", ex.Message);
        Assert.Throws<ArgumentException>(() => ConfigBinder.Apply(new LrmlConfig(), ConfigBinder.ParsePairs(new[] { "dim=abc" })));
        Assert.Throws<ArgumentException>(() => ConfigBinder.Apply(new LrmlConfig(), ConfigBinder.ParsePairs(new[] { "distance=cosine" })));
        Assert.Throws<ArgumentException>(() => ConfigBinder.ParsePairs(new[] { "dim" }));
    }
}
