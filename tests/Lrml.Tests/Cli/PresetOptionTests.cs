using Lrml.Cli;
using Lrml.Reproduction;

namespace Lrml.Tests.Cli;

public sealed class PresetOptionTests
{
    private static Lrml.Experiments.RunSpec Spec(params string[] args) => TrainCommand.SpecFrom(LrmlCommandLine.Build().Parse(["train", .. args]));

    [Fact]
    public void PresetTunedTrainsWithTheSettingsAndTrainingOptionsTheReproductionUses()
    {
        var preset = Presets.Get("bpr", "ml-100k");
        Assert.NotEmpty(preset.Settings);
        var spec = Spec("-d", "ml-100k", "-m", "bpr", "--preset", "tuned");
        Assert.Equal(preset.Settings.OrderBy(kv => kv.Key), spec.Settings.OrderBy(kv => kv.Key));
        var expected = Lrml.Models.ConfigBinder.Apply(new Lrml.Training.TrainConfig(), preset.Train);
        Assert.Equal(expected.Epochs, spec.Train.Epochs);
        Assert.Equal(expected.BatchSize, spec.Train.BatchSize);
        // without --preset, train keeps the model's own defaults (no preset settings)
        Assert.Empty(Spec("-d", "ml-100k", "-m", "bpr").Settings);
    }

    [Fact]
    public void ExplicitOptionsAndSettingsOverrideThePreset()
    {
        var spec = Spec("-d", "ml-100k", "-m", "bpr", "--preset", "tuned", "--epochs", "3", "--set", "dim=8");
        Assert.Equal(3, spec.Train.Epochs);
        Assert.Equal("8", Assert.Single(spec.Settings, kv => kv.Key == "dim").Value);
        Assert.Contains("the only preset is 'tuned'",
            Assert.ThrowsAny<ArgumentException>(() => Spec("-d", "ml-100k", "-m", "bpr", "--preset", "best")).Message);
    }
}
