using System.CommandLine;
using System.Globalization;
using Lrml.Data;
using Lrml.Reproduction;
using Spectre.Console;

namespace Lrml.Cli;

/// <summary>`lrml recommend` and `lrml explain`: a trained model loaded back from its run directory (<see cref="TrainedModel"/>).</summary>
internal static class InferenceCommands
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    private static Option<string> RunOption() => new("--run") { Description = "Run directory written by lrml train (result.json, best.ckpt)", Required = true };
    private static Option<string> UserOption() => new("--user", "-u") { Description = "Raw user id as in the data file (e.g. 196 for ML-100K)", Required = true };

    public static Command Recommend()
    {
        var run = RunOption();
        var user = UserOption();
        var k = new Option<int>("--k", "-k") { Description = "How many items", DefaultValueFactory = _ => 10 };
        var keepValidation = new Option<bool>("--keep-validation") { Description = "Rank the user's validation items too (by default they are left out with the training items, as in the full-ranking test)" };
        var cmd = new Command("recommend", "Top-k items for a user from a trained run, with titles and, for LRML, the attention explanation of each.");
        foreach (var o in new Option[] { run, user, k, keepValidation }) cmd.Options.Add(o);
        cmd.SetAction(p => Guard(() =>
        {
            if (p.GetValue(k) < 1) throw new ArgumentException($"--k {p.GetValue(k)}: recommend at least one item.");
            using var model = Load(p, p.GetValue(run)!);
            string u = p.GetValue(user)!;
            bool keep = p.GetValue(keepValidation);
            var recs = model.Recommend(u, p.GetValue(k), excludeValidation: !keep);
            var history = model.History(u);
            int ui = model.UserIndex(u);
            int validation = model.Split.Validation.CountOf(ui);
            AnsiConsole.WriteLine($"User {u}: {history.Count} training items, {validation} validation, {model.Split.Test.CountOf(ui)} test. " +
                                  $"Left out of the ranking: the training items{(keep ? "" : " and the validation items")} " +
                                  $"({history.Count + (keep ? 0 : validation)} of {model.Split.NumItems} items).");
            AnsiConsole.WriteLine("History (training): " + Abbreviate(history.Select(h => h.Label).ToList(), 6));
            bool relational = model.IsRelational, heldOut = recs.Any(r => r.HeldOut is not null);
            var columns = new List<string> { "#", "item", "score" };
            if (relational) columns.AddRange(["slot (a)", "H/lnN", "share", "on slot"]);
            if (heldOut) columns.Add("held out");
            var rows = recs.Select(r =>
            {
                var row = new List<string> { r.Rank.ToString(Ci), Cut(r.Item.Label, 40), r.Score.ToString("F4", Ci) };
                if (relational)
                {
                    var e = r.Explanation;
                    row.AddRange([$"{e.DominantSlot} ({e.DominantWeight.ToString("F3", Ci)})",
                        double.IsNaN(e.EntropyRatio) ? "–" : e.EntropyRatio.ToString("F3", Ci) + (e.NearUniform ? "≈" : ""),
                        e.SlotShare.ToString("P0", Ci), $"{e.SharedSlotCount}/{e.HistoryCount}"]);
                }
                if (heldOut) row.Add(r.HeldOut ?? "");
                return row.ToArray();
            }).ToArray();
            var numeric = columns.Select(c => c is "score" or "share").ToArray();
            foreach (var part in TableRendering.Layout($"{model.Model.Name} top {recs.Count} for user {u}", columns, rows, numeric, TableRendering.OutputWidth))
                AnsiConsole.Write(part);
            if (recs.Count == 0) AnsiConsole.WriteLine("No item is left to recommend: the user knows every item.");
            if (relational && recs.Count > 0)
            {
                int slots = recs[0].Explanation.A!.Length;
                AnsiConsole.WriteLine($"slot (a): the memory slot with the largest attention for the pair and its weight (uniform: {1.0 / slots:F3} over N = {slots}); " +
                                      $"H/lnN: attention entropy over ln N (1 = uniform; ≈ marks ≥ {TrainedModel.NearUniformEntropyRatio}: near uniform, the slot explains nothing); " +
                                      "share: training pairs whose attention peaks at that slot; on slot: the user's training items peaking there.");
                if (recs.All(r => r.Explanation.NearUniform))
                    AnsiConsole.WriteLine("The attention is near uniform for every item above: the memory does not single out a slot, so no slot explains " +
                                          "these recommendations (the ranking comes from p, q and an almost constant relation r).");
                else
                    foreach (var r in recs.Where(r => !r.Explanation.NearUniform))
                        AnsiConsole.WriteLine($"{r.Rank}. {r.Item.Label}: {r.Explanation.Summary}");
            }
            if (recs.FirstOrDefault(r => r.HeldOut == "test") is { } hit)
                AnsiConsole.WriteLine($"Rank {hit.Rank} is the user's held-out test item.");
            return 0;
        }));
        return cmd;
    }

    public static Command Explain()
    {
        var run = RunOption();
        var user = UserOption();
        var item = new Option<string>("--item", "-i") { Description = "Raw item id as in the data file (e.g. 50 for Star Wars in ML-100K)", Required = true };
        var cmd = new Command("explain", "LRML's quantities for one (user, item) pair of a trained run: p, q, s = p ⊙ q, the attention a, r = a·M and the distance.");
        foreach (var o in new Option[] { run, user, item }) cmd.Options.Add(o);
        cmd.SetAction(p => Guard(() =>
        {
            using var model = Load(p, p.GetValue(run)!);
            if (!model.IsRelational)
                throw new ArgumentException($"explain shows LRML's memory attention (p, q, a, r); the run in '{model.RunDirectory}' trained {model.Model.Name}, " +
                                            "which has none. lrml recommend ranks with its scores.");
            var e = model.Explain(p.GetValue(user)!, p.GetValue(item)!);
            int d = e.P!.Length, n = e.A!.Length;
            AnsiConsole.WriteLine($"{e.Model}, user {e.User} (index {e.UserIndex}), item {e.Item.Label} (index {e.Item.Index}); d = {d}, N = {n}");
            Line("p", e.P, 8, "user vector (after the norm clip)");
            Line("q", e.Q!, 8, "item vector (after the norm clip)");
            Line("s = p ⊙ q", e.S!, 8, "joint key");
            Line("a = softmax(s·K)", e.A, 20, $"attention over the slots, sum {e.A.Sum(v => (double)v):F6}");
            Line("r = a·M", e.R!, 8, "latent relation");
            Line("p + r − q", e.Residual!, 8, "translation residual");
            AnsiConsole.WriteLine($"  ‖p + r − q‖ = {e.ResidualNorm:F6}");
            AnsiConsole.WriteLine($"  distance D  = {e.Distance:F6}   ({e.DistanceFormula})");
            AnsiConsole.WriteLine($"  score       = {e.Score:F6}   (−D: what the evaluator ranks by)");
            AnsiConsole.WriteLine($"  attention: peak at slot {e.DominantSlot} with a = {e.DominantWeight:F4} (uniform {1.0 / n:F4}), entropy {e.Entropy:F4} nats" +
                                  (double.IsNaN(e.EntropyRatio) ? "" : $" = {e.EntropyRatio:F4} × ln N"));
            AnsiConsole.WriteLine("  " + e.Summary);
            return 0;
        }));
        return cmd;
    }

    private static TrainedModel Load(ParseResult p, string run) =>
        TrainedModel.Load(run, CommonOptions.Context(p, new ConsoleObserver()), p.GetValue(CommonOptions.Threads));

    /// <summary>One vector: its name, shape, values (abbreviated past <paramref name="whole"/>), norm and meaning.</summary>
    private static void Line(string name, float[] v, int whole, string what) =>
        AnsiConsole.WriteLine($"  {name,-16} {"(" + v.Length.ToString(Ci) + ")",-5} {Vector(v, whole, "F4")}  ‖·‖ {Math.Sqrt(v.Sum(x => (double)x * x)):F4}  {what}");

    /// <summary>A vector as "[a, b, c, …, y, z]": whole up to <paramref name="whole"/> values, else the first four and the last two.</summary>
    internal static string Vector(float[] v, int whole, string format)
    {
        string F(float x) => x.ToString(format, Ci);
        return v.Length <= whole ? "[" + string.Join(", ", v.Select(F)) + "]"
            : "[" + string.Join(", ", v.Take(4).Select(F)) + ", …, " + string.Join(", ", v.Skip(v.Length - 2).Select(F)) + "]";
    }

    private static string Abbreviate(IReadOnlyList<string> items, int show) =>
        items.Count <= show ? string.Join("; ", items) : string.Join("; ", items.Take(show)) + $"; … ({items.Count - show} more)";

    private static string Cut(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

    /// <summary>Bad input — a missing or unfinished run directory, data that differs from the run's, an unknown user or item,
    /// a model without attention — is one clear message and exit code 2; the rest as every command (<see cref="LrmlCommandLine.Guard"/>).</summary>
    private static int Guard(Func<int> body) => LrmlCommandLine.Guard(() =>
    {
        try { return body(); }
        catch (Exception ex) when (ex is ArgumentException or IOException or InvalidDataException or DataFormatException)
        {
            LrmlCommandLine.PrintError(ex.Message);
            return 2;
        }
    });
}
