# scripts/realprog/lists_dicts.tcl: Tcl list, dict and string churn, for the cost of the
# secure build on a real program (docs/hlmalloc.md). Prints a checksum.
set sum 0
for {set round 0} {$round < 10} {incr round} {
    set d [dict create]
    set l {}
    for {set i 0} {$i < 20000} {incr i} {
        dict set d key$i [string repeat x [expr {$i % 97}]]
        lappend l [list $i [expr {$i * $round}] item$i]
    }
    foreach {k v} $d {
        incr sum [string length $v]
    }
    set l [lsort -integer -index 1 $l]
    incr sum [llength $l]
}
puts $sum
