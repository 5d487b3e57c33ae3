using Lrml.Data;

namespace Lrml.Tests.Data;

public class PreprocessTests
{
    /// <summary>Builds a dataset from (user, item) raw-id pairs, numbering ids in order of first appearance.</summary>
    private static Interactions Make(string name, (string U, string I)[] pairs, float[]? rating = null, long[]? time = null, ItemCatalog? catalog = null)
    {
        var users = new IdMap();
        var items = new IdMap();
        var u = pairs.Select(p => users.GetOrAdd(p.U)).ToArray();
        var i = pairs.Select(p => items.GetOrAdd(p.I)).ToArray();
        return new Interactions(name, u, i, rating, time, users, items, catalog, new Dictionary<string, string> { ["file"] = "hand" });
    }

    [Fact]
    public void KCoreCascadesUntilStable()
    {
        // z has one interaction → (C,z) goes; then C has one → (C,y) goes; A and B keep x and y (2 each)
        var d = Make("k", [("A", "x"), ("A", "y"), ("B", "x"), ("B", "y"), ("C", "y"), ("C", "z")]);
        var r = Preprocess.KCore(d, 2, 2);
        Assert.Equal(2, r.RemovedInteractions);
        Assert.Equal(1, r.RemovedUsers);
        Assert.Equal(1, r.RemovedItems);
        Assert.Equal(3, r.Rounds);   // round 1 drops (C,z), round 2 drops (C,y), round 3 finds nothing
        Assert.Equal(4, r.Data.Count);
        Assert.Equal([0, 0, 1, 1], r.Data.User);
        Assert.Equal([0, 1, 0, 1], r.Data.Item);
        Assert.Equal(3, r.Data.NumUsers);   // index space unchanged until Compact
        Assert.Contains("2-core", r.Data.Provenance[ProvenanceKeys.Preprocessing]);
        Assert.Equal(6, d.Count);           // input untouched
    }

    [Fact]
    public void KCoreOfAPathUnravelsCompletely()
    {
        // a path u0–i0–u1–i1–u2–i2: every end has degree 1, and peeling propagates along the whole path
        var d = Make("path", [("u0", "i0"), ("u1", "i0"), ("u1", "i1"), ("u2", "i1"), ("u2", "i2")]);
        var r = Preprocess.KCore(d, 2, 2);
        Assert.Equal(0, r.Data.Count);
        Assert.Equal(3, r.RemovedUsers);
        Assert.Equal(3, r.RemovedItems);
        Assert.True(r.Rounds >= 3);
    }

    [Fact]
    public void KCoreWithDifferentUserAndItemThresholds()
    {
        // user k = 3, item k = 1: only user A (3 items) survives; item threshold removes nothing by itself
        var d = Make("k", [("A", "x"), ("A", "y"), ("A", "z"), ("B", "x"), ("B", "y")]);
        var r = Preprocess.KCore(d, 3, 1);
        Assert.Equal(3, r.Data.Count);
        Assert.All(r.Data.User, u => Assert.Equal(0, u));
        Assert.Equal(1, r.RemovedUsers);
        Assert.Equal(0, r.RemovedItems);
    }

    [Fact]
    public void CompactKeepsRawIdsOrderAndCatalog()
    {
        var cat = new ItemCatalog(["g"]);
        cat.Add(new ItemInfo("y", "Why", ["g"]));
        var d = Make("c", [("A", "x"), ("A", "y"), ("B", "x"), ("B", "y"), ("C", "y"), ("C", "z")], catalog: cat);
        var core = Preprocess.KCore(d, 2, 2).Data;
        var r = Preprocess.Compact(core);
        Assert.Equal(1, r.RemovedUsers);
        Assert.Equal(1, r.RemovedItems);
        Assert.Equal(["A", "B"], r.Data.Users.Raw);
        Assert.Equal(["x", "y"], r.Data.Items.Raw);
        Assert.Same(cat, r.Data.Catalog);
        Assert.Equal("Why", r.Data.Catalog!.TitleOf(r.Data.Items[1]));
        // every (raw user, raw item) pair survives compaction
        var before = Enumerable.Range(0, core.Count).Select(k => (core.Users[core.User[k]], core.Items[core.Item[k]]));
        var after = Enumerable.Range(0, r.Data.Count).Select(k => (r.Data.Users[r.Data.User[k]], r.Data.Items[r.Data.Item[k]]));
        Assert.Equal(before, after);
        Assert.Contains("compact", r.Data.Provenance[ProvenanceKeys.Preprocessing]);
        Assert.Contains("2-core", r.Data.Provenance[ProvenanceKeys.Preprocessing]);   // the log accumulates
    }

    [Fact]
    public void ToImplicitThresholdAndErrors()
    {
        var d = Make("r", [("A", "x"), ("A", "y"), ("B", "x"), ("B", "z")], rating: [5f, 3f, 4f, 1f], time: [10, 20, 30, 40]);
        var r = Preprocess.ToImplicit(d, 4f);
        Assert.Equal(2, r.RemovedInteractions);
        Assert.Equal(2, r.RemovedItems);       // y and z lose their only interaction
        Assert.Equal(0, r.RemovedUsers);
        Assert.Equal([5f, 4f], r.Data.Rating!);
        Assert.Equal([10L, 30L], r.Data.Timestamp!);
        var all = Preprocess.ToImplicit(d, dropRatings: true);
        Assert.Equal(4, all.Data.Count);
        Assert.Null(all.Data.Rating);
        var noRatings = Make("n", [("A", "x")]);
        Assert.Throws<ArgumentException>(() => Preprocess.ToImplicit(noRatings, 4f));
    }

    [Fact]
    public void DeduplicateKeepsFirstOrLatest()
    {
        // (A,x) three times at times 30, 10, 30; (B,y) twice without tie
        var d = Make("d", [("A", "x"), ("B", "y"), ("A", "x"), ("B", "y"), ("A", "x")],
            rating: [1f, 2f, 3f, 4f, 5f], time: [30, 50, 10, 40, 30]);
        var first = Preprocess.Deduplicate(d, DuplicatePolicy.First);
        Assert.Equal(3, first.RemovedInteractions);
        Assert.Equal([1f, 2f], first.Data.Rating!);
        var latest = Preprocess.Deduplicate(d, DuplicatePolicy.Latest);
        Assert.Equal(3, latest.RemovedInteractions);
        // (A,x): times 30 (row 0), 10 (row 2), 30 (row 4): the tie at 30 goes to the later row 4; (B,y): 50 beats 40
        Assert.Equal([2f, 5f], latest.Data.Rating!);
        var none = Preprocess.Deduplicate(first.Data);
        Assert.Equal(0, none.RemovedInteractions);
        // without timestamps, Latest is the last in file order
        var noTime = Make("n", [("A", "x"), ("A", "x")], rating: [1f, 2f]);
        Assert.Equal([2f], Preprocess.Deduplicate(noTime, DuplicatePolicy.Latest).Data.Rating!);
    }

    [Fact]
    public void SampleUsersIsSeededAndKeepsWholeUsers()
    {
        var pairs = Enumerable.Range(0, 50).SelectMany(u => Enumerable.Range(0, 3).Select(i => ($"u{u}", $"i{(u + i) % 7}"))).ToArray();
        var d = Make("s", pairs);
        var a = Preprocess.SampleUsers(d, 10, seed: 1);
        var b = Preprocess.SampleUsers(d, 10, seed: 1);
        var c = Preprocess.SampleUsers(d, 10, seed: 2);
        Assert.Equal(30, a.Data.Count);
        Assert.Equal(a.Data.User, b.Data.User);
        Assert.NotEqual(a.Data.User.Distinct().Order(), c.Data.User.Distinct().Order());
        Assert.Equal(40, a.RemovedUsers);
        Assert.Equal(5, Preprocess.Head(d, 5).Data.Count);
    }
}
