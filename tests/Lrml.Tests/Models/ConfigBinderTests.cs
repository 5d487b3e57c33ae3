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

/// <summary>Setting keys named through the config records (issue 12): the key is the JSON name the binder uses, and
/// <see cref="ConfigBinder.Bind{T}"/> names the setting a record refuses.</summary>
public class SettingKeyTests
{
    [Fact]
    public void AKeyIsTheNameTheBinderReadsAndWrites()
    {
        Assert.Equal("slots", ConfigBinder.Key<LrmlConfig>(c => c.Slots));
        Assert.Equal("learning_rate", ConfigBinder.Key<LrmlConfig>(c => c.LearningRate));
        Assert.Equal("memory_init_scale", ConfigBinder.Key<LrmlConfig>(c => c.MemoryInitScale));
        Assert.Equal("l2", ConfigBinder.Key<BprConfig>(c => c.L2));
        Assert.Equal("negatives_per_positive", ConfigBinder.Key<Lrml.Training.TrainConfig>(t => t.NegativesPerPositive));
        Assert.Throws<ArgumentException>(() => ConfigBinder.Key<LrmlConfig>(c => c.EffectiveMemoryLearningRate));   // not a setting ([JsonIgnore])
        Assert.Equal(new KeyValuePair<string, string>("attention_temperature", "0.01"), ConfigBinder.Pair<LrmlConfig>(c => c.AttentionTemperature, "0.01"));
    }

    [Fact]
    public void BindNamesTheSettingTheRecordRefuses()
    {
        Assert.Equal(64, ConfigBinder.Bind<LrmlConfig>([new("dim", "64"), new("slots", "4")]).Dim);
        var e = Assert.Throws<ArgumentException>(() => ConfigBinder.Bind<LrmlConfig>([new("dim", "64"), new("margin", "-1"), new("slots", "4")]));
        Assert.Equal("Bad setting margin=-1: Margin must be a finite value ≥ 0 (got -1).", e.Message);
        Assert.Throws<ArgumentException>(() => ConfigBinder.Bind<LrmlConfig>([new("dimension", "64")]));
    }
}
