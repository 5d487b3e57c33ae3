using Lrml.Data;
using Lrml.Reproduction;

namespace Lrml.Tests.Reproduction.Tables;

/// <summary>presets.json is checked against each model's config record when it is loaded (issue 12): an unknown model,
/// setting key or a bad value fails naming the file, the entry and the key instead of failing a reproduction hours later.</summary>
public class PresetsTests
{
    private static string File(string lrmlSettings, string train = "{}", string model = "lrml") =>
        $$"""{ "default": { "pop": { "settings": {}, "train": {} } }, "datasets": { "ml-1m": { "{{model}}": { "settings": {{lrmlSettings}}, "train": {{train}} } } } }""";

    [Fact]
    public void TheEmbeddedPresetsAreValid()
    {
        Assert.Contains("lrml", Presets.Models);
        Assert.Equal("0.0005", Presets.Get("lrml", "ml-1m").Settings.Single(kv => kv.Key == "learning_rate").Value);
    }

    [Fact]
    public void AGoodFileLoads() =>
        Assert.NotNull(Presets.Parse(File("""{ "dim": 64, "slots": 10, "distance": "sqrt-l2" }""", """{ "epochs": 5 }"""), "presets.json"));

    [Theory]
    [InlineData("""{ "dim": 64, "slotz": 10 }""", "{}", "lrml",
        "my-presets.json: datasets.ml-1m.lrml.settings: Unknown setting 'slotz' for LrmlConfig.")]
    [InlineData("""{ "dim": 64, "slots": 0 }""", "{}", "lrml",
        "my-presets.json: datasets.ml-1m.lrml.settings: Bad setting slots=0: Slots must be ≥ 1 (got 0).")]
    [InlineData("""{ "distance": "cosine" }""", "{}", "lrml",
        "my-presets.json: datasets.ml-1m.lrml.settings: Invalid value for LrmlConfig:")]
    [InlineData("{}", """{ "epochz": 5 }""", "lrml",
        "my-presets.json: datasets.ml-1m.lrml.train: Unknown setting 'epochz' for TrainConfig.")]
    [InlineData("{}", "{}", "lrmx",
        "my-presets.json: datasets.ml-1m.lrmx: Unknown model 'lrmx'.")]
    public void ABadEntryNamesTheFileTheEntryAndTheKey(string settings, string train, string model, string message)
    {
        var e = Assert.Throws<DataFormatException>(() => Presets.Parse(File(settings, train, model), "my-presets.json"));
        Assert.StartsWith(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
