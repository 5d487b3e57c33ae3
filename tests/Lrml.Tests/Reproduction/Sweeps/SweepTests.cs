using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction.Sweeps;
using Lrml.Training;

using Lrml.Models;

using Lrml.Notebooks;

namespace Lrml.Tests.Reproduction.Sweeps;

/// <summary>Search spaces, trial generation, selection on validation only, and the resumable sweep runner end to end.</summary>
[Collection("Torch models")]
public class SweepTests
{
    private static ExperimentContext Context(string root) => new() { Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root };

    [Fact]
    public void DimensionsParseValueListsBracketedListsAndDistributions()
    {
        var lr = Dimension.Parse("lr=1e-4,3e-4,1e-3");
        Assert.Equal(DimensionKind.Values, lr.Kind);
        Assert.Equal(["1e-4", "3e-4", "1e-3"], lr.Values);
        Assert.Equal(["[64,32,16,8]", "[32,16,8]"], Dimension.Parse("layers=[64,32,16,8],[32,16,8]").Values);
        Assert.Equal(["32", "64"], Dimension.Parse("dim=choice(32, 64)").Values);
        var u = Dimension.Parse("margin=uniform(0.1,1)");
        Assert.Equal((DimensionKind.Uniform, 0.1, 1.0), (u.Kind, u.Low, u.High));
        Assert.Equal(DimensionKind.LogUniform, Dimension.Parse("lr=loguniform(1e-4,1e-2)").Kind);
        foreach (var bad in new[] { "lr", "lr=", "lr=uniform(1)", "lr=uniform(2,1)", "lr=loguniform(0,1)", "x=1,1", "x=1,,2", "lr=uniform(0,1" })
            Assert.Throws<ArgumentException>(() => Dimension.Parse(bad));
    }

    [Fact]
    public void GridListsEveryPointInASeededOrderSoThatEachPrefixIsAUniformSample()
    {
        var space = SearchSpace.Parse(["a=1,2", "b=x,y,z"]);
        Assert.Equal(6, space.GridSize());
        string[] grid = ["a=1;b=x", "a=1;b=y", "a=1;b=z", "a=2;b=x", "a=2;b=y", "a=2;b=z"];
        var all = space.Trials(SearchKind.Grid, 10, seed: 1).Select(SearchSpace.Key).ToList();
        Assert.Equal(grid, all.Order(StringComparer.Ordinal));                // every point once
        Assert.Equal(all, space.Trials(SearchKind.Grid, 10, seed: 1).Select(SearchSpace.Key));   // deterministic for a seed
        var four = space.Trials(SearchKind.Grid, 4, seed: 7).Select(SearchSpace.Key).ToList();
        Assert.Equal(4, four.Distinct().Count());
        Assert.All(four, k => Assert.Contains(k, grid));
        Assert.Equal(four, space.Trials(SearchKind.Grid, 4, seed: 7).Select(SearchSpace.Key).ToList());
        var subsets = Enumerable.Range(1, 20).Select(s => string.Join("|", space.Trials(SearchKind.Grid, 3, s).Select(SearchSpace.Key).Order())).Distinct().Count();
        Assert.True(subsets > 5, $"only {subsets} distinct subsets over 20 seeds");
        // the first half of a search is not the grid's first values: over 400 seeds every point is the first trial about
        // 1/6 of the time (declared order would make it always a=1;b=x), and a=2 is in the first half about half the time
        var first = Enumerable.Range(1, 400).Select(s => SearchSpace.Key(space.Trials(SearchKind.Grid, 6, s)[0])).GroupBy(k => k).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(6, first.Count);
        Assert.All(first.Values, c => Assert.InRange(c, 40, 95));              // 400/6 ≈ 67, binomial sd ≈ 7.5
        int a2 = Enumerable.Range(1, 400).Sum(s => space.Trials(SearchKind.Grid, 6, s).Take(3).Count(c => c[0].Value == "2"));
        Assert.InRange(a2, 500, 700);                                          // 1,200 slots, expected 600
        Assert.Throws<ArgumentException>(() => SearchSpace.Parse(["a=uniform(0,1)"]).Trials(SearchKind.Grid, 3, 1));
    }

    [Fact]
    public void RandomSearchDrawsWithinTheDistributionsDeterministically()
    {
        var space = SearchSpace.Parse(["lr=loguniform(1e-4,1e-1)", "m=uniform(0.1,0.9)", "d=32,64"]);
        var trials = space.Trials(SearchKind.Random, 30, seed: 3);
        Assert.Equal(30, trials.Select(SearchSpace.Key).Distinct().Count());
        double V(IReadOnlyList<KeyValuePair<string, string>> t, string k) => double.Parse(t.First(kv => kv.Key == k).Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.All(trials, t => Assert.InRange(V(t, "lr"), 1e-4 * 0.999, 0.1 * 1.001));
        Assert.All(trials, t => Assert.InRange(V(t, "m"), 0.1 * 0.999, 0.9 * 1.001));
        Assert.All(trials, t => Assert.Contains(t.First(kv => kv.Key == "d").Value, new[] { "32", "64" }));
        // log-uniform: about a third of the draws per decade, so the lowest decade is well represented
        Assert.InRange(trials.Count(t => V(t, "lr") < 1e-3), 4, 18);
        Assert.Equal(trials.Select(SearchSpace.Key), space.Trials(SearchKind.Random, 30, seed: 3).Select(SearchSpace.Key));
    }

    [Fact]
    public void SettingsAreRoutedToTheTrainerOrTheModel()
    {
        var (model, train) = Sweep.Route([new("dim", "8"), new("negatives", "4"), new("batch_size", "256"), new("learning_rate", "1e-3")]);
        Assert.Equal(["dim", "learning_rate"], model.Select(kv => kv.Key));
        Assert.Equal(["negatives_per_positive", "batch_size"], train.Select(kv => kv.Key));
        var cfg = ConfigBinder.Apply(new TrainConfig(), train);
        Assert.Equal((4, 256), (cfg.NegativesPerPositive, cfg.BatchSize));
    }

    [Fact]
    public void SelectionReadsValidationOnlyAndNeverPicksADivergedTrial()
    {
        TrialRecord T(int i, double val, double test, string status = "ok") => new()
        {
            Trial = i, Status = status, Validation = new() { ["nDCG@10"] = val }, Test = new() { ["nDCG@10"] = test },
        };
        var trials = new[] { T(0, 0.20, 0.90), T(1, 0.30, 0.10), T(2, 0.30, 0.95), T(3, 0.99, 0.99, "diverged") };
        Assert.Equal(1, Sweep.Choose(trials, "nDCG@10")!.Trial);           // best validation; the earlier of a tie; test ignored
        Assert.Null(Sweep.Choose([T(0, 0.5, 0.5, "diverged")], "nDCG@10"));
    }

    [Fact]
    public void EveryModelDeclaresAValidDefaultSpace()
    {
        Assert.All(Lrml.Reproduction.Presets.Models, m => Assert.True(DefaultSpaces.Declares(m), $"{m} (in the reproductions) declares no default space"));
        foreach (var entry in ModelRegistry.All.Where(e => DefaultSpaces.Declares(e.Name)))   // a model added without a space sweeps one trial
        {
            var modelKeys = entry.DefaultConfig().Select(kv => ConfigBinder.Normalise(kv.Key)).ToHashSet();
            var space = DefaultSpaces.For(entry.Name);
            var (model, _) = Sweep.Route(space.Dimensions.Select(d => new KeyValuePair<string, string>(d.Key, d.Values[0])));
            Assert.All(model, kv => Assert.Contains(ConfigBinder.Normalise(kv.Key), modelKeys));
            if (entry.Name != "pop") Assert.True(space.GridSize() >= 8, $"{entry.Name}'s default grid is smaller than the quick budget");
        }
        Assert.Contains(DefaultSpaces.For("neumf", pretrainedNeuMf: true).Dimensions, d => d.Key == "optimizer" && d.Values.SequenceEqual(["sgd"]));
    }

    [Fact]
    public void SweepRecordsEveryTrialSelectsOnValidationRunsFinalSeedsAndResumes()
    {
        string root = Directory.CreateTempSubdirectory("lrml-sweep").FullName;
        var spec = new SweepSpec
        {
            Dataset = "synthetic", Model = "bpr", Space = SearchSpace.Parse(["dim=8,16", "learning_rate=1e-2,1e30"]),
            Trials = 3, Seeds = 2, Epochs = 1, Train = new TrainConfig { BatchSize = 1024, Threads = 1 }, SearchSeed = 2,
            Settings = [new("batch_size", "1024"), new("negatives", "1")],
        };
        string dir = Path.Combine(root, "bpr");                            // a sweep named after its model (becomes a preset)
        var r = Sweep.Run(spec, Context(root), dir);

        Assert.Equal(3, r.Trials.Count);
        Assert.Contains(r.Trials, t => t.Status == "diverged" && t.Settings["learning_rate"] == "1e30");
        var ok = r.Trials.Where(t => t.Status == "ok").ToList();
        Assert.NotEmpty(ok);
        Assert.Equal(ok.Max(t => t.Validation["nDCG@10"]), r.Chosen.Validation["nDCG@10"]);
        Assert.Equal("1e-2", r.Chosen.Settings["learning_rate"]);
        Assert.Equal(2, r.Finals.Count);
        Assert.Equal(r.Chosen.RunDir, r.Finals[0].RunDir);                  // the chosen trial is the first-seed final run
        Assert.Equal([1L, 2L], r.Finals.Select(f => f.Seed));
        Assert.Equal(r.Finals.Average(f => f.Test["HR@10"]), r.Summary["HR@10"].Mean, 12);
        Assert.True(r.Summary.ContainsKey("full/nDCG@10"));

        var csv = File.ReadAllLines(Path.Combine(dir, "trials.csv"));
        Assert.Equal(4, csv.Length);
        foreach (var col in new[] { "trial", "status", "seed", "dim", "learning_rate", "val/nDCG@10", "test/HR@10", "test/full/Recall@10", "seconds", "run_dir" })
            Assert.Contains(col, csv[0].Split(','));
        var chosen = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "chosen.json")))!.AsObject();
        Assert.Equal("validation", (string?)chosen["selected_on"]);
        Assert.Equal(r.Chosen.Settings["dim"], (string?)chosen["settings"]!["dim"]);
        Assert.Equal(2, chosen["final_runs"]!.AsArray().Count);
        Assert.Equal(r.Summary["nDCG@10"].Mean, (double)chosen["mean"]!["nDCG@10"]!, 12);
        Assert.Equal(3, r.TrialTable.ToDataFrame().Rows.Count);
        var collected = SweepTable.Collect(root);
        Assert.Single(collected.Rows);
        Assert.Equal("BPR-MF", collected.Get(0, "model"));
        Assert.Equal(r.Summary["full/Recall@10"].Mean, (double)collected.Get(0, "full/Recall@10")!, 12);
        Assert.Equal(r.Summary["nDCG@10"].Std, (double)collected.Get(0, "nDCG@10 std")!, 12);
        // the trainer settings of the run and its seconds per epoch are in the table (batch size and negatives were dropped before)
        Assert.Equal("batch_size=1024 negatives_per_positive=1", collected.Get(0, "trainer"));
        Assert.Equal(r.Finals.Average(f => f.Seconds / f.Epochs), (double)collected.Get(0, "s/epoch")!, 9);
        var preset = SweepTable.Presets(root)["datasets"]!["synthetic"]!["bpr"]!;
        Assert.Equal(r.Chosen.Settings["dim"], (string?)preset["settings"]!["dim"]);
        Assert.Equal(1, (int)preset["train"]!["epochs"]!);

        // resume: nothing is re-run (result files untouched), and a larger budget runs only the new trial
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(r.Chosen.RunDir, "result.json"));
        var again = Sweep.Run(spec, Context(root), dir);
        Assert.Equal(r.Chosen.Key, again.Chosen.Key);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(r.Chosen.RunDir, "result.json")));
        var bigger = Sweep.Run(spec with { Trials = 4 }, Context(root), dir);
        Assert.Equal(4, bigger.Trials.Count);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(dir, "trials.csv")).Length - 1);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(r.Chosen.RunDir, "result.json")));
    }

    [Fact]
    public void ASweepThatDiesKeepsItsFinishedTrials()
    {
        string root = Directory.CreateTempSubdirectory("lrml-sweep").FullName;
        var spec = new SweepSpec
        {
            Dataset = "synthetic", Model = "bpr", Space = SearchSpace.Parse(["dim=8,0"]), Trials = 2, Seeds = 1, Epochs = 1,
            Train = new TrainConfig { BatchSize = 2048, Threads = 1 },
        };
        string dir = Path.Combine(root, "sweep");
        // the grid's order is seeded: take a search seed that lists dim=8 first, so dim = 0 fails in trial 2
        long searchSeed = Enumerable.Range(1, 50).First(s => spec.Space.Trials(SearchKind.Grid, 2, s)[0][0].Value == "8");
        spec = spec with { SearchSeed = searchSeed };
        Assert.Throws<ArgumentException>(() => Sweep.Run(spec, Context(root), dir));
        var lines = File.ReadAllLines(Path.Combine(dir, "trials.csv"));
        Assert.Equal(2, lines.Length);
        Assert.Contains(",8,", lines[1]);
        Assert.Throws<ArgumentException>(() => Sweep.Run(spec with { Space = SearchSpace.Parse(["dimm=8"]) }, Context(root), dir));   // typo caught up front
    }

    /// <summary>Issue 13 §2a: a search over a model's declared space starts with the model's default configuration, so it can
    /// never choose below the default; the budget stays the same, and a default that is a grid point anyway is moved, not added.</summary>
    [Fact]
    public void TheDefaultConfigurationIsTrialZeroOfADeclaredSpaceWithinTheSameBudget()
    {
        var bpr = ModelRegistry.Get("bpr");
        var spec = new SweepSpec { Dataset = "synthetic", Model = "bpr", Trials = 5 };
        var space = DefaultSpaces.For("bpr");                              // dim × learning_rate × l2 = 18 points > 5
        var trials = Sweep.WithDefaultFirst(space, spec, bpr, []);
        Assert.Equal(5, trials.Count);
        var defaults = new BprConfig();
        var first = trials[0].ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(defaults.Dim, int.Parse(first["dim"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(defaults.LearningRate, float.Parse(first["learning_rate"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(defaults.L2, float.Parse(first["l2"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(("1024", "1"), (first["batch_size"], first["negatives"]));
        Assert.Equal(5, trials.Select(SearchSpace.Key).Distinct().Count());

        // the default written differently inside the grid (1e-3 for 0.001) is the same point: moved to the front, not repeated
        var small = new SearchSpace([new Dimension("dim", DimensionKind.Values, ["16", defaults.Dim.ToString(System.Globalization.CultureInfo.InvariantCulture)]),
            new Dimension("learning_rate", DimensionKind.Values, ["1e-2", defaults.LearningRate.ToString("E0", System.Globalization.CultureInfo.InvariantCulture)])]);
        var moved = Sweep.WithDefaultFirst(small, spec with { Trials = 10 }, bpr, []);
        Assert.Equal(4, moved.Count);
        Assert.Equal($"dim={defaults.Dim};learning_rate={defaults.LearningRate.ToString("E0", System.Globalization.CultureInfo.InvariantCulture)}", SearchSpace.Key(moved[0]));
    }

    /// <summary>Issue 13 §2e: popularity is not trained, so its sweep runs once whatever the number of seeds, and says what it
    /// chose without "() … NaN".</summary>
    [Fact]
    public void APopularitySweepRunsOnceAndSaysItHadNothingToChoose()
    {
        string root = Directory.CreateTempSubdirectory("lrml-sweep").FullName;
        var messages = new List<string>();
        var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root, Observer = new MessageLog(messages) };
        var r = Sweep.Run(new SweepSpec { Dataset = "synthetic", Model = "pop", Seeds = 3, Train = new TrainConfig { Threads = 1 } }, ctx);
        Assert.Single(r.Trials);
        Assert.Single(r.Finals);
        var chosen = Assert.Single(messages, m => m.StartsWith("Chosen on validation", StringComparison.Ordinal));
        Assert.DoesNotContain("NaN", chosen);
        Assert.DoesNotContain("()", chosen);
        Assert.Contains("trial 0 (no settings)", chosen);
        Assert.Contains(messages, m => m.Contains("one run, no extra seeds", StringComparison.Ordinal));
    }

    /// <summary>Issue 13 §2b: the trial table flags a run that ended no better than popularity on validation, and the chosen
    /// line counts them.</summary>
    [Fact]
    public void TrialsNoBetterThanPopularityAreFlaggedAndCounted()
    {
        var good = new TrialRecord { Trial = 0, Key = "dim=8", Settings = new() { ["dim"] = "8" }, Validation = new() { ["nDCG@10"] = 0.3 } };
        var flat = new TrialRecord { Trial = 1, Key = "dim=0.5", Settings = new() { ["dim"] = "16" }, Validation = new() { ["nDCG@10"] = 0.1 }, NoBetterThanPopularity = true };
        string line = Sweep.ChosenMessage(good, "nDCG@10", [good, flat]);
        Assert.Equal("Chosen on validation nDCG@10: trial 0 (dim=8, the model's default configuration), validation nDCG@10 0.3000; " +
                     "1 of 2 trials ended no better than popularity on validation (column no_better_than_pop)", line);
        var table = Sweep.Table("t", [good, flat], SearchSpace.Parse(["dim=8,16"]));
        Assert.Equal(["", "yes"], new[] { table.Get(0, "no_better_than_pop"), table.Get(1, "no_better_than_pop") });
    }

    private sealed class MessageLog(List<string> messages) : IRunObserver
    {
        public void Message(string text) => messages.Add(text);
    }

    /// <summary>Issue 13 §2: the search curve (best validation so far) and the budget sentence — "flat" only when the second half of
    /// the trials added less than the seed noise; a gain above it says to give a larger budget; too few trials or one seed claim nothing.</summary>
    [Fact]
    public void TheSearchCurveSaysFlatOnlyWhenTheSecondHalfAddedLessThanSeedNoise()
    {
        TrialRecord T(int i, double v, string status = "ok") => new() { Trial = i, Status = status, Key = $"k={i}", Validation = new() { ["nDCG@10"] = v } };
        var trials = new[] { T(0, 0.20), T(1, 0.25), T(2, 0.9, "diverged"), T(3, 0.24), T(4, 0.26), T(5, 0.255) };
        Assert.Equal([0.20, 0.25, 0.25, 0.25, 0.26, 0.26], Sweep.BestSoFar(trials, "nDCG@10"));
        var curve = Sweep.BestSoFar(trials, "nDCG@10");
        Assert.Equal("Search curve: best validation nDCG@10 0.2500 after the first 3 trials, 0.2600 after all 6 (+0.0100); seed noise of the chosen " +
                     "configuration 0.0150 (std over its final seeds): the second half of the budget added less than the seed noise — flat, the budget was enough.",
            Sweep.BudgetSentence(curve, "nDCG@10", 0.015));
        Assert.EndsWith("still improved by more than the seed noise — not flat: give the search a larger budget.", Sweep.BudgetSentence(curve, "nDCG@10", 0.005));
        Assert.DoesNotContain("flat", Sweep.BudgetSentence(curve, "nDCG@10", double.NaN));
        Assert.StartsWith("Search curve: 3 trial(s) — too few", Sweep.BudgetSentence(curve[..3], "nDCG@10", 0.01));
        var table = Sweep.Table("t", trials, SearchSpace.Parse(["k=0,1,2,3,4,5"]));
        Assert.Equal(0.26, (double)table.Get(5, "best_so_far")!, 12);
    }
}
